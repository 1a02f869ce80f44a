"""The JSON Schema of a bounded decimal, as `core.money.exact_decimal` and pydantic take it.

A decimal field (`DecimalStr` with `Field(gt=0, le=..., decimal_places=...)`) reaches the
OpenAPI document as pydantic leaves it: `anyOf: [number, string]` plus its constraints under
pydantic's own names (`gt`, `le`, `decimal_places`, `max_digits`), which JSON Schema does not
know, so a client or a schema-based test sees "any number, any string". `decimal_schema`
states the same rule in JSON Schema:

- a JSON number: `exclusiveMinimum`/`minimum`, `maximum`/`exclusiveMaximum`, and
  `multipleOf: 10**-decimal_places`;
- a string: a pattern that matches exactly the text taken: ASCII digits, an optional `+`,
  an optional decimal point; leading zeros and trailing zeros after the point are allowed
  (they do not change the value, nor its decimal places).

It covers the bounds the API uses: a lower bound of 0 (`gt` or `ge`) and an integer upper
bound (`le` or `lt`). Other constraints are left as they are (`translate` returns None).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

PYDANTIC_DECIMAL_KEYS = ("gt", "ge", "lt", "le", "decimal_places", "max_digits")
# Significant digits the API takes (`core.money.MAX_SIGNIFICANT_DIGITS`, the default context).
_MAX_SIGNIFICANT = 28


def translate(node: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema of the decimal `node` (pydantic's form), or None if not one we state.

    A request's decimal is `anyOf: [number, string]`; a response's (serialised as text) is
    a string, and keeps only the string's pattern.
    """
    text_only = node.get("type") == "string"
    if "decimal_places" not in node or not (text_only or _is_number_or_string(node.get("anyOf"))):
        return None
    lower_exclusive = "gt" in node
    lower = _number(node.get("gt", node.get("ge")))
    upper_exclusive = "lt" in node
    upper = _number(node.get("lt", node.get("le")))
    places = node["decimal_places"]
    max_digits = node.get("max_digits")
    if lower != 0 or upper is None or upper != upper.to_integral_value() or upper <= 0:
        return None
    if not isinstance(places, int) or places < 1:
        return None
    integer_digits = len(str(int(upper)))
    # The largest value within the bounds must not need more digits than the field allows.
    if integer_digits + places > min(max_digits or _MAX_SIGNIFICANT, _MAX_SIGNIFICANT):
        return None
    number: dict[str, Any] = {"type": "number", "multipleOf": float(Decimal(1).scaleb(-places))}
    number["exclusiveMinimum" if lower_exclusive else "minimum"] = 0
    number["exclusiveMaximum" if upper_exclusive else "maximum"] = _json_number(upper)
    pattern = decimal_pattern(
        int(upper), places, zero=not lower_exclusive, upper_inclusive=not upper_exclusive
    )
    rest = {k: v for k, v in node.items() if k not in (*PYDANTIC_DECIMAL_KEYS, "anyOf")}
    if text_only:
        return {**rest, "pattern": pattern}
    return {**rest, "anyOf": [number, {"type": "string", "pattern": pattern}]}


def decimal_pattern(upper: int, places: int, *, zero: bool, upper_inclusive: bool) -> str:
    """A pattern of the decimal texts in (0, upper] (or [0, ...), ...upper)) with `places`."""
    fraction = rf"(?:\.[0-9]{{0,{places}}}0*)?"  # digits past `places` must be zeros
    nonzero_fraction = "|".join(
        rf"0{{{position}}}[1-9][0-9]{{0,{places - position - 1}}}" for position in range(places)
    )
    parts = [
        # A whole part from 1 to upper - 1, any allowed fraction.
        *([rf"0*(?:{integer_range(upper - 1)}){fraction}"] if upper > 1 else []),
        # No whole part (or zeros): the fraction must not be zero.
        rf"0*\.(?:{nonzero_fraction})0*",
    ]
    if upper_inclusive:
        parts.append(rf"0*{upper}(?:\.0*)?")
    if zero:
        parts.append(r"0+(?:\.0*)?|0*\.0+")
    sign = r"[+-]?" if zero else r"\+?"  # "-0" is 0; any other negative is out of bounds
    return rf"^{sign}(?:{'|'.join(parts)})$"


def integer_range(high: int) -> str:
    """A pattern of the integers 1..`high`, written without leading zeros."""
    digits = str(high)
    if set(digits) == {"9"}:  # 1..99...9: any number of up to that many digits
        return rf"[1-9][0-9]{{0,{len(digits) - 1}}}"
    parts = []
    if len(digits) > 1:
        parts.append(rf"[1-9][0-9]{{0,{len(digits) - 2}}}")  # fewer digits than `high`
    for position, digit in enumerate(digits):
        low = 1 if position == 0 else 0
        if int(digit) > low:
            rest = len(digits) - position - 1
            tail = rf"[0-9]{{{rest}}}" if rest else ""
            parts.append(f"{digits[:position]}[{low}-{int(digit) - 1}]{tail}")
    parts.append(digits)
    return "|".join(parts)


def _is_number_or_string(branches: Any) -> bool:
    return isinstance(branches, list) and sorted(b.get("type", "") for b in branches) == [
        "number",
        "string",
    ]


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _json_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
