"""Request and response schemas of the order domain (OrderCreate, OrderUpdate, OrderRead, ...)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    StrictBool,
    model_validator,
)

from stocks_api.broker.protocol import OrderType, Side, TimeInForce
from stocks_api.core.schemas import (
    ApiModel,
    DecimalStr,
    Page,
    RequestModel,
    UTCDatetime,
)
from stocks_api.orders.state import OrderStatus

# Sanity bounds on a single order; the risk engine applies the trader's own, tighter limits.
MAX_ORDER_QTY = Decimal("10000000")
MAX_PRICE = Decimal("1000000")

Quantity = Annotated[
    DecimalStr,
    Field(gt=0, le=MAX_ORDER_QTY, max_digits=18, decimal_places=8, examples=["10"]),
]
Price = Annotated[
    DecimalStr,
    Field(gt=0, le=MAX_PRICE, max_digits=18, decimal_places=8, examples=["190.25"]),
]
ClientOrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


# Symbols are case-insensitive on input ("aapl" is AAPL) and upper-case everywhere after.
Symbol = Annotated[
    str,
    BeforeValidator(_upper),
    Field(min_length=1, max_length=12, pattern=r"^[A-Z][A-Z0-9.]{0,11}$"),
]

_NEEDS_LIMIT = {OrderType.LIMIT, OrderType.STOP_LIMIT}
_NEEDS_STOP = {OrderType.STOP, OrderType.STOP_LIMIT}


class OrderCreate(RequestModel):
    """A new order."""

    symbol: Symbol
    side: Side
    qty: Quantity
    type: OrderType
    limit_price: Price | None = None
    stop_price: Price | None = None
    tif: TimeInForce = TimeInForce.DAY
    outside_rth: StrictBool = False
    client_order_id: ClientOrderId | None = Field(
        default=None, description="your idempotency key; generated when absent"
    )

    @model_validator(mode="after")
    def _prices_match_type(self) -> OrderCreate:
        problems = _price_problems(self.type, self.limit_price, self.stop_price)
        if self.tif is TimeInForce.IOC and self.type in _NEEDS_STOP:
            problems.append("tif ioc is only allowed for market and limit orders")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def request_hash(self, client_order_id: str) -> str:
        """Fingerprint the order as requested, so a replay can be told from a conflict."""
        body = self.model_dump(mode="json")
        body["client_order_id"] = client_order_id
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _price_problems(
    order_type: OrderType, limit_price: Decimal | None, stop_price: Decimal | None
) -> list[str]:
    problems = []
    if order_type in _NEEDS_LIMIT and limit_price is None:
        problems.append(f"limit_price is required for {order_type} orders")
    if order_type not in _NEEDS_LIMIT and limit_price is not None:
        problems.append(f"limit_price is not allowed for {order_type} orders")
    if order_type in _NEEDS_STOP and stop_price is None:
        problems.append(f"stop_price is required for {order_type} orders")
    if order_type not in _NEEDS_STOP and stop_price is not None:
        problems.append(f"stop_price is not allowed for {order_type} orders")
    return problems


class OrderUpdate(RequestModel):
    """A change to an open order: new quantity, limit or stop price."""

    qty: Quantity | None = None
    limit_price: Price | None = None
    stop_price: Price | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> OrderUpdate:
        if self.qty is None and self.limit_price is None and self.stop_price is None:
            raise ValueError("give at least one of qty, limit_price, stop_price")
        return self


class OrderRead(ApiModel):
    """An order with its current state."""

    id: int
    client_order_id: str
    symbol: str
    side: Side
    qty: DecimalStr
    type: OrderType = Field(validation_alias=AliasChoices("type", "order_type"))
    limit_price: DecimalStr | None
    stop_price: DecimalStr | None
    trail_percent: DecimalStr | None = None
    trail_amount: DecimalStr | None = None
    tif: TimeInForce
    outside_rth: bool
    status: OrderStatus
    filled_qty: DecimalStr
    avg_fill_price: DecimalStr | None
    broker_order_id: str | None
    perm_id: str | None
    reject_reason: str | None
    parent_id: int | None
    legs: list[OrderRead] = Field(default_factory=list)
    created_at: UTCDatetime
    submitted_at: UTCDatetime | None
    filled_at: UTCDatetime | None
    cancelled_at: UTCDatetime | None
    updated_at: UTCDatetime


class OrderPage(Page[OrderRead]):
    """A page of orders, newest first."""


StatusFilter = Literal["open", "closed", "all"] | OrderStatus


class OrderFilters(RequestModel):
    """Query parameters of `GET /api/v1/orders`."""

    status: StatusFilter = "all"
    symbol: Symbol | None = None
    side: Side | None = None
    since: UTCDatetime | None = Field(
        default=None, description="created at or after (ISO 8601; UTC when no offset)"
    )
    until: UTCDatetime | None = Field(
        default=None, description="created before (ISO 8601; UTC when no offset)"
    )
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=200)


class OrderEventRead(ApiModel):
    """One entry of an order's audit trail."""

    id: int
    order_id: int
    kind: str
    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str | None
    payload: dict[str, Any]
    created_at: UTCDatetime


class FillRead(ApiModel):
    """One execution with its commission."""

    id: int
    exec_id: str
    order_id: int
    symbol: str
    side: Side
    qty: DecimalStr
    price: DecimalStr
    commission: DecimalStr
    currency: str
    executed_at: UTCDatetime


class FillPage(Page[FillRead]):
    """A page of fills, newest first."""


class FillFilters(RequestModel):
    """Query parameters of `GET /api/v1/fills`."""

    symbol: Symbol | None = None
    order_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    since: UTCDatetime | None = Field(
        default=None, description="executed at or after (ISO 8601; UTC when no offset)"
    )
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=200)


class CancelAllResult(ApiModel):
    """What `DELETE /api/v1/orders` did."""

    cancel_requested: list[OrderRead]
    failed: list[dict[str, Any]] = Field(default_factory=list)
