"""The `symbols` of `GET /quotes`: the documented pattern is the rule the service applies."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocks_api.core.errors import UnprocessableError
from stocks_api.marketdata.schemas import MAX_QUOTE_SYMBOLS, SYMBOLS_PATTERN
from stocks_api.marketdata.service import parse_symbol_list

_PATTERN = re.compile(SYMBOLS_PATTERN)
# Commas, blanks of several kinds (Python's: \x1c is one, U+3000 too) and symbol characters.
_TEXT = st.lists(st.sampled_from([*"AB.1,, \t\n", "\x1c", "\u3000", "é"]), max_size=150).map(
    "".join
)
# Lists around the cap, with blank items between.
_NEAR_CAP = st.lists(
    st.sampled_from(["AAPL", "msft", "", " ", "x y"]), min_size=40, max_size=60
).map(",".join)


def _refused(text: str) -> bool:
    try:
        parse_symbol_list(text)
    except UnprocessableError:
        return True
    return False


@settings(max_examples=200, derandomize=True)
@given(st.one_of(_TEXT, _NEAR_CAP))
def test_the_pattern_matches_exactly_the_lists_taken(text: str) -> None:
    assert (_PATTERN.search(text) is None) == _refused(text), repr(text)


@pytest.mark.parametrize(
    ("text", "taken"),
    [
        ("", False),
        (" , ,", False),
        ("aapl, MSFT,,aapl", True),
        (",".join(["AAPL"] * MAX_QUOTE_SYMBOLS), True),
        # The cap counts what is listed, repeats too.
        (",".join(["AAPL"] * (MAX_QUOTE_SYMBOLS + 1)), False),
    ],
)
def test_examples(text: str, taken: bool) -> None:
    assert (_PATTERN.search(text) is not None) is taken
    assert _refused(text) is not taken
