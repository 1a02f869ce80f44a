"""Decimal normalisation and pagination cursors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stocks_api.core.money import normalize_decimal
from stocks_api.core.schemas import decode_cursor, encode_cursor


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.50", "10.5"),
        ("1E+2", "100"),
        ("100", "100"),
        ("0.000", "0"),
        ("-2.500", "-2.5"),
        ("1E+30", "1000000000000000000000000000000"),
        ("0.00000001", "0.00000001"),
    ],
)
def test_normalize_decimal(raw: str, expected: str) -> None:
    assert format(normalize_decimal(Decimal(raw)), "f") == expected
    assert normalize_decimal(Decimal(raw)) == Decimal(raw)


def test_cursor_round_trip_and_rejection() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    for bad in ("", "!!!", "aWQ6eA", encode_cursor(1)[:-2] + "$$"):
        with pytest.raises(ValueError, match="malformed cursor"):
            decode_cursor(bad)
