"""Decimal helpers shared by storage and the API."""

from __future__ import annotations

from decimal import Decimal


def normalize_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros so equal amounts look alike ("10.50" -> "10.5", "1E+2" -> "100")."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal
