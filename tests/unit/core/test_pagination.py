"""The documented cursor pattern: exactly the cursors the API makes (ids below 10**18)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from stocks_api.core.pagination import CURSOR_PATTERN
from stocks_api.core.schemas import decode_cursor, encode_cursor

_PATTERN = re.compile(CURSOR_PATTERN)


@settings(max_examples=300, derandomize=True)
@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_every_cursor_made_matches(last_id: int) -> None:
    assert _PATTERN.fullmatch(encode_cursor(last_id))


@settings(max_examples=150, derandomize=True)
@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_string_matching_is_a_cursor(cursor: str) -> None:
    assert 0 <= decode_cursor(cursor) < 10**18


def test_strings_that_are_no_cursor_do_not_match() -> None:
    for text in ("", "0" * 200, "aWQ6", "aWQ6eA", "aWQ6LTE", encode_cursor(10**18), "aWQ6MQ=="):
        assert not _PATTERN.fullmatch(text), text
