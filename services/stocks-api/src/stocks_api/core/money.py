"""Decimal helpers shared by storage and the API."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, getcontext
from typing import Any

from pydantic_core import PydanticCustomError

# A number as the API takes it in text: ASCII digits, an optional sign, an optional decimal
# point. Not Python's Decimal() syntax, which also reads "1_000", "1e3", " 12 ", "NaN" and
# digits of every script (Arabic-Indic, full-width).
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
# Significant digits a value may have and still be validated without rounding: pydantic and
# Decimal arithmetic work in the default context (28 digits) and would round a longer value
# ("1.99999999999999999999999999999" to 2) before its decimal places were checked.
MAX_SIGNIFICANT_DIGITS = getcontext().prec

DECIMAL_TEXT_MESSAGE = (
    "must be a number written with the ASCII digits 0-9, an optional sign and an optional "
    'decimal point (e.g. "10" or "190.25")'
)


def exact_decimal(value: Any) -> Any:
    """Take an API number exactly, or refuse it: a pydantic `BeforeValidator`.

    Text must match `_DECIMAL_TEXT`; JSON numbers arrive as `Decimal` or `int` (see
    `core.json_body`) and are kept as they are. A binary float is refused, since it is not the
    number that was written. No value with more than `MAX_SIGNIFICANT_DIGITS` significant
    digits passes (trailing zeros do not count), so nothing after this is ever rounded. Other
    types are handed on for pydantic to refuse.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        raise PydanticCustomError(
            "decimal_float",
            "must be sent as a string or an exact JSON number, not a binary floating-point value",
        )
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise PydanticCustomError("decimal_parsing", DECIMAL_TEXT_MESSAGE)
        value = Decimal(value)
    elif isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, Decimal) and _significant_digits(value) > MAX_SIGNIFICANT_DIGITS:
        raise PydanticCustomError(
            "decimal_too_precise",
            "has more than {max} significant digits, more than can be taken exactly",
            {"max": MAX_SIGNIFICANT_DIGITS},
        )
    return value


def _significant_digits(value: Decimal) -> int:
    """Digits of the coefficient without its trailing zeros (1.50 and 1.5E+30 have two)."""
    if not value.is_finite():
        return 0
    return max(1, len(bytes(value.as_tuple().digits).rstrip(b"\0")))


def normalize_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros so equal amounts look alike ("10.50" -> "10.5", "1E+2" -> "100").

    Built from the digit tuple, exactly: `Decimal.normalize()` rounds to the context's 28
    digits, and quantize() overflows the context for huge values (1E+30) that validation
    must still be able to refuse.
    """
    if not value.is_finite():
        return value
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    if exponent < 0 and digits == (0,):
        exponent = 0
    if exponent > 0:
        return Decimal((sign, digits + (0,) * exponent, 0))
    return Decimal((sign, digits, exponent))


# Decimal places of the API's rounded figures (see `core.schemas`: `Money`, `AveragePrice`,
# `Ratio`). Only their presentation is rounded: the database and every computation keep the
# exact values, so a sum of rounded figures is never fed back into the books.
MONEY_PLACES = 2  # cents: what a statement shows for cash, values, P&L and commissions
AVERAGE_PLACES = 4  # IB's average cost and average fill price, as TWS shows them
RATIO_PLACES = 4  # cushion, leverage, share of a limit used: 0.0001 is 0.01 %
# Wide enough for any value the API takes (28 significant digits) plus the places added.
_PRESENTATION = Context(prec=2 * MAX_SIGNIFICANT_DIGITS, rounding=ROUND_HALF_EVEN)


def fixed_text(value: Decimal, places: int) -> str:
    """`value` rounded half-even to `places` decimals and written with all of them.

    "1" -> "1.00", "1448.2266666672" -> "1448.23" (2 places); half-even, so a column of
    rounded figures carries no upward bias. A value that rounds to zero is "0.00", never
    "-0.00".
    """
    rounded = value.quantize(Decimal(1).scaleb(-places), context=_PRESENTATION)
    if rounded.is_zero():
        rounded = rounded.copy_abs()
    return format(rounded, "f")


def exact_text(value: Decimal) -> str:
    """`value` exactly, without trailing zeros or an exponent ("190.10" -> "190.1")."""
    return format(normalize_decimal(value), "f")
