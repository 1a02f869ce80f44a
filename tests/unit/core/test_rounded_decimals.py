"""The response decimals rounded for presentation: `Money`, `AveragePrice`, `Ratio`."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from pydantic import ValidationError

from stocks_api.core.money import exact_text, fixed_text
from stocks_api.core.schemas import ApiModel, AveragePrice, DecimalStr, Money, Ratio


class _Figures(ApiModel):
    money: Money
    average: AveragePrice
    ratio: Ratio
    exact: DecimalStr
    maybe: Money | None = None


@pytest.mark.parametrize(
    ("raw", "places", "expected"),
    [
        ("1", 2, "1.00"),
        ("1448.2266666672", 2, "1448.23"),
        ("2.345", 2, "2.34"),  # half-even: to the even cent
        ("2.355", 2, "2.36"),
        ("-1.005", 2, "-1.00"),
        ("-0.001", 2, "0.00"),  # never "-0.00"
        ("1E+3", 2, "1000.00"),
        ("181.0283333334", 4, "181.0283"),
        ("190.12", 4, "190.1200"),
        ("0.00015", 4, "0.0002"),
        ("1234567890123456789012345678", 2, "1234567890123456789012345678.00"),
    ],
)
def test_fixed_text_rounds_half_even_and_keeps_every_place(
    raw: str, places: int, expected: str
) -> None:
    assert fixed_text(Decimal(raw), places) == expected


def test_exact_text_drops_trailing_zeros_only() -> None:
    assert exact_text(Decimal("190.10")) == "190.1"
    assert exact_text(Decimal("186.123")) == "186.123"
    assert exact_text(Decimal("1E+2")) == "100"


def test_json_is_rounded_the_model_keeps_the_exact_value() -> None:
    figures = _Figures(
        money=Decimal("1448.2266666672"),
        average=Decimal("181.0283333334"),
        ratio=Decimal("0.999512"),
        exact=Decimal("186.1230"),
        maybe=Decimal("1"),
    )
    assert figures.model_dump(mode="json") == {
        "money": "1448.23",
        "average": "181.0283",
        "ratio": "0.9995",
        "exact": "186.123",
        "maybe": "1.00",
    }
    assert figures.model_dump()["money"] == Decimal("1448.2266666672")
    assert figures.model_dump()["average"] == Decimal("181.0283333334")
    assert _Figures(money=1, average=1, ratio=0, exact=1).model_dump(mode="json")["maybe"] is None


def test_a_float_is_refused_as_everywhere_else() -> None:
    with pytest.raises(ValidationError, match="not a binary floating-point value"):
        _Figures(money=0.1, average=1, ratio=0, exact=1)


def test_the_json_schema_states_the_places() -> None:
    schema = _Figures.model_json_schema(mode="serialization")["properties"]
    assert schema["money"]["pattern"] == r"^-?[0-9]+\.[0-9]{2}$"
    assert schema["average"]["pattern"] == r"^-?[0-9]+\.[0-9]{4}$"
    assert schema["ratio"]["pattern"] == r"^-?[0-9]+\.[0-9]{4}$"
    assert "2 decimal places" in schema["money"]["description"]
    money = next(b for b in schema["maybe"]["anyOf"] if b.get("type") == "string")
    assert money["pattern"] == schema["money"]["pattern"]
    # The pattern matches what the serializer writes, sign included.
    for value in ("-1.005", "0", "12345.678"):
        assert re.fullmatch(schema["money"]["pattern"], fixed_text(Decimal(value), 2))
