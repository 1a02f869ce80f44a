"""A bounded decimal's JSON Schema states exactly what validation takes."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from stocks_api.core.decimal_schema import integer_range, translate
from stocks_api.orders.schemas import Price, Quantity, TrailPercent
from stocks_api.risk.schemas import Money, _Leverage, _Percent

_TEXT = st.lists(st.sampled_from([*"0123456789", ".", "+", "-", "0", "0"]), max_size=18).map(
    "".join
)


@pytest.mark.parametrize("high", [1, 9, 10, 49, 99, 100, 12345, 999_999])
def test_integer_ranges(high: int) -> None:
    pattern = re.compile(rf"^(?:{integer_range(high)})$")
    near = {*range(0, 1200), *range(high - 1100, high + 100)}
    for number in sorted(n for n in near if n >= 0):
        assert bool(pattern.match(str(number))) is (1 <= number <= high), number


@pytest.mark.parametrize("field", [Quantity, Price, TrailPercent, Money, _Leverage, _Percent])
def test_the_pattern_is_the_text_validation_takes(field: Any) -> None:
    adapter = TypeAdapter(field)
    translated = translate(adapter.json_schema())
    assert translated is not None
    number, text = translated["anyOf"]
    pattern = re.compile(text["pattern"])

    def taken(value: str) -> bool:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    # The number's bounds and places are validation's too.
    step = Decimal(str(number["multipleOf"]))
    top = Decimal(str(number.get("maximum", number.get("exclusiveMaximum"))))
    places = -step.as_tuple().exponent
    assert isinstance(places, int)
    # Numbers around the bounds, one place finer than allowed, written in several ways.
    near = st.decimals(min_value=-1, max_value=top * 2, places=places + 1).map(lambda d: f"{d:f}")
    written = st.tuples(st.sampled_from(["", "+", "00"]), near, st.sampled_from(["", "0", "00"]))

    @settings(max_examples=150, derandomize=True, database=None)
    @given(st.one_of(_TEXT, written.map(lambda t: t[0] + t[1] + (t[2] if "." in t[1] else ""))))
    def agree(value: str) -> None:
        assert bool(pattern.match(value)) is taken(value), value

    agree()
    assert taken(f"{step:f}")
    assert not taken(f"{step / 10:f}")
    assert taken(f"{top:f}") is ("maximum" in number)
    assert not taken(f"{top + step:f}")


def test_constraints_it_cannot_state_are_left_alone() -> None:
    node = {"anyOf": [{"type": "number"}, {"type": "string"}], "decimal_places": 2, "ge": -5}
    assert translate(node) is None
    assert translate({"type": "integer"}) is None
