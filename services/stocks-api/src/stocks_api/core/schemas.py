"""The base of every API schema: ORM-readable, decimals as exact strings, aware UTC times."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from stocks_api.core.json_body import UnreadableBody
from stocks_api.core.money import (
    AVERAGE_PLACES,
    MONEY_PLACES,
    RATIO_PLACES,
    exact_decimal,
    fixed_text,
    normalize_decimal,
)

# A ticker as IB and the simulator write it: upper case, starting with a letter ("BRK.B").
SYMBOL_PATTERN = r"^[A-Z][A-Z0-9.]{0,11}$"
SYMBOL_RE = re.compile(SYMBOL_PATTERN)


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


# Symbols are case-insensitive on input ("aapl" is AAPL) and upper-case everywhere after.
Symbol = Annotated[
    str,
    BeforeValidator(_upper),
    Field(
        min_length=1,
        max_length=12,
        pattern=SYMBOL_PATTERN,
        # pydantic leaves the pattern out after a BeforeValidator: document the input's.
        json_schema_extra={"pattern": r"^[A-Za-z][A-Za-z0-9.]{0,11}$"},
    ),
]


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# Money, prices and quantities: parsed exactly (`exact_decimal`: ASCII digits, no float, no
# more digits than a Decimal keeps), serialised as plain decimal strings (never exponent
# notation, never binary floats).
DecimalStr = Annotated[
    Decimal,
    BeforeValidator(exact_decimal),
    AfterValidator(normalize_decimal),
    PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json"),
]


def _rounded_serializer(places: int) -> PlainSerializer:
    return PlainSerializer(lambda v: fixed_text(v, places), return_type=str, when_used="json")


def _rounded_schema(places: int, kind: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^-?[0-9]+\.[0-9]{{{places}}}$",
            "description": f"{kind}, rounded half-even to {places} decimal places",
        },
        mode="serialization",
    )


# The API's decimals by kind (README "Decimal places"). Prices the user or the broker gave
# (limit, stop, fill, bid/ask/last, bars) and quantities are exact: `DecimalStr`. The kinds
# below are response types, rounded half-even to a fixed number of places and always written
# with all of them. Only the JSON is rounded: the model (and `model_dump()` in Python mode)
# keeps the exact value it was built from, as the database does. REST responses and
# WebSocket events (an event's data is the REST resource's own schema) serialise through the
# same types, so a field reads the same in each.
#
# Money: cash, values, P&L, margin figures, commissions, to cents ("1.00", "1448.23").
Money = Annotated[
    Decimal,
    BeforeValidator(exact_decimal),
    _rounded_serializer(MONEY_PLACES),
    _rounded_schema(MONEY_PLACES, "money"),
]
# Averages of prices (avg_cost, avg_fill_price), as IB reports them ("181.0283").
AveragePrice = Annotated[
    Decimal,
    BeforeValidator(exact_decimal),
    _rounded_serializer(AVERAGE_PLACES),
    _rounded_schema(AVERAGE_PLACES, "an average price"),
]
# Ratios (cushion, leverage, the share of a limit used): "0.1234" is 12.34 %.
Ratio = Annotated[
    Decimal,
    BeforeValidator(exact_decimal),
    _rounded_serializer(RATIO_PLACES),
    _rounded_schema(RATIO_PLACES, "a ratio"),
]
UTCDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class ApiModel(BaseModel):
    """Base schema for responses."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class RequestModel(BaseModel):
    """Base schema for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unreadable_body(cls, data: Any) -> Any:
        # A JSON body `core.json_body` could not read (malformed, or a key given twice).
        if isinstance(data, UnreadableBody):
            raise data.error()
        # FastAPI validates bodies with from_attributes=True, which would read any other
        # object (a bare JSON number is a Decimal here) as one without attributes, i.e. an
        # all-defaults model: `0.5` as the body of /risk/halt would halt trading.
        if not isinstance(data, dict | BaseModel):
            raise PydanticCustomError("model_type", "Input should be an object")
        return data


T = TypeVar("T")


class Page(ApiModel, Generic[T]):
    """One page of a cursor-paginated list; pass `next_cursor` back as `cursor`."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    """Make an opaque cursor from the id of the last item on a page."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Read a cursor made by `encode_cursor`; raise ValueError when it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("malformed cursor") from exc
    prefix, _, number = text.partition(":")
    if prefix != "id" or not number.isdigit():
        raise ValueError("malformed cursor")
    return int(number)
