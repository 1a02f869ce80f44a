"""Decimal helpers shared by storage and the API."""

from __future__ import annotations

from decimal import Decimal


def normalize_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros so equal amounts look alike ("10.50" -> "10.5", "1E+2" -> "100").

    Built from the digit tuple rather than with quantize(), which overflows the decimal
    context for huge values (1E+30) that validation must still be able to refuse.
    """
    if not value.is_finite():
        return value
    sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    if exponent > 0:
        return Decimal((sign, digits + (0,) * exponent, 0))
    return Decimal((sign, digits, exponent))
