"""Request and response schemas of the order domain (OrderCreate, OrderUpdate, OrderRead, ...)."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)

from stocks_api.broker.protocol import OrderType, Side, TimeInForce
from stocks_api.core.pagination import Cursor
from stocks_api.core.query import QueryDatetime
from stocks_api.core.schemas import (
    ApiModel,
    AveragePrice,
    DecimalStr,
    Money,
    Page,
    RequestModel,
    Symbol,
    UTCDatetime,
)
from stocks_api.core.ticks import off_tick_price, off_tick_trail_amount
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
TrailPercent = Annotated[
    DecimalStr, Field(gt=0, lt=100, max_digits=8, decimal_places=4, examples=["1.5"])
]
ClosePercentage = Annotated[
    DecimalStr, Field(gt=0, le=100, max_digits=8, decimal_places=4, examples=["50"])
]
# Printable text (no control characters), at most 64 characters.
Tag = Annotated[
    str,
    Field(
        min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$", examples=["mean-reversion-v2"]
    ),
]
ClientOrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]


_NEEDS_LIMIT = {OrderType.LIMIT, OrderType.STOP_LIMIT}
_NEEDS_STOP = {OrderType.STOP, OrderType.STOP_LIMIT}
_STOPS = {OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP}
LegTimeInForce = Literal[TimeInForce.DAY, TimeInForce.GTC]


class TakeProfit(RequestModel):
    """The profit-taking child of a bracket: a limit order on the other side."""

    limit_price: Price
    tif: LegTimeInForce | None = Field(
        default=None, description="default: the parent's (day for an ioc parent)"
    )


class StopLoss(RequestModel):
    """The protective child of a bracket: a stop (or stop-limit) order on the other side."""

    stop_price: Price
    limit_price: Price | None = Field(default=None, description="makes it a stop-limit order")
    tif: LegTimeInForce | None = Field(
        default=None, description="default: the parent's (day for an ioc parent)"
    )


class OrderCreate(RequestModel):
    """A new order; with `take_profit` and/or `stop_loss` it is the parent of a bracket."""

    # The example Swagger UI sends: a valid order (a market order carries no price).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"symbol": "AAPL", "side": "buy", "qty": "10", "type": "market"}]
        }
    )

    symbol: Symbol
    side: Side
    qty: Quantity
    type: OrderType
    limit_price: Price | None = None
    stop_price: Price | None = None
    trail_amount: Price | None = Field(
        default=None, description="trailing_stop: distance from the market, in price"
    )
    trail_percent: TrailPercent | None = Field(
        default=None, description="trailing_stop: distance from the market, in percent"
    )
    tif: TimeInForce = TimeInForce.DAY
    outside_rth: StrictBool = False
    client_order_id: ClientOrderId | None = Field(
        default=None, description="your idempotency key; generated when absent"
    )
    take_profit: TakeProfit | None = None
    stop_loss: StopLoss | None = None
    tag: Tag | None = Field(
        default=None,
        description=(
            "your own label (a strategy's name, say), kept with the order and its bracket legs"
            " and shown in every answer and event; `GET /orders?tag=` finds them"
        ),
    )

    @model_validator(mode="after")
    def _prices_match_type(self) -> OrderCreate:
        problems = _price_problems(self.type, self.limit_price, self.stop_price)
        problems += _trail_problems(self.type, self.trail_amount, self.trail_percent)
        if self.tif is TimeInForce.IOC and self.type in _STOPS:
            problems.append("tif ioc is only allowed for market and limit orders")
        problems += _bracket_problems(self)
        problems += _tick_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def is_bracket(self) -> bool:
        """Whether the order carries take-profit or stop-loss legs."""
        return self.take_profit is not None or self.stop_loss is not None

    def request_hash(self, client_order_id: str) -> str:
        """Fingerprint the order as requested, so a replay can be told from a conflict."""
        body = self.model_dump(mode="json")
        body["client_order_id"] = client_order_id
        if body["tag"] is None:
            # Left out: an untagged request hashes as it did before tags existed, so a retry
            # of an order placed before the upgrade is still a replay, not a conflict.
            del body["tag"]
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


def _trail_problems(
    order_type: OrderType, trail_amount: Decimal | None, trail_percent: Decimal | None
) -> list[str]:
    given = (trail_amount is not None) + (trail_percent is not None)
    if order_type is OrderType.TRAILING_STOP and given != 1:
        return ["a trailing_stop order needs exactly one of trail_amount and trail_percent"]
    if order_type is not OrderType.TRAILING_STOP and given:
        return [f"trail_amount and trail_percent are not allowed for {order_type} orders"]
    return []


def _tick_problems(order: OrderCreate) -> list[str]:
    """Every price of the order (its legs' too) on the price increment (`core.ticks`)."""
    prices = [("limit_price", order.limit_price), ("stop_price", order.stop_price)]
    if order.take_profit is not None:
        prices.append(("take_profit.limit_price", order.take_profit.limit_price))
    if order.stop_loss is not None:
        prices.append(("stop_loss.stop_price", order.stop_loss.stop_price))
        prices.append(("stop_loss.limit_price", order.stop_loss.limit_price))
    problems = [off_tick_price(field, price) for field, price in prices]
    problems.append(off_tick_trail_amount("trail_amount", order.trail_amount))
    return [problem for problem in problems if problem is not None]


def _bracket_problems(order: OrderCreate) -> list[str]:
    """Check that the legs sit on the right sides: profit beyond the entry, loss below it."""
    take_profit, stop_loss = order.take_profit, order.stop_loss
    buy = order.side is Side.BUY
    entry = order.limit_price if order.limit_price is not None else order.stop_price
    problems = []
    if take_profit is not None and entry is not None:
        if buy and take_profit.limit_price <= entry:
            problems.append("take_profit.limit_price must be above the entry price of a buy")
        if not buy and take_profit.limit_price >= entry:
            problems.append("take_profit.limit_price must be below the entry price of a sell")
    if stop_loss is not None and entry is not None:
        if buy and stop_loss.stop_price >= entry:
            problems.append("stop_loss.stop_price must be below the entry price of a buy")
        if not buy and stop_loss.stop_price <= entry:
            problems.append("stop_loss.stop_price must be above the entry price of a sell")
    if take_profit is not None and stop_loss is not None:
        if buy and take_profit.limit_price <= stop_loss.stop_price:
            problems.append("take_profit.limit_price must be above stop_loss.stop_price")
        if not buy and take_profit.limit_price >= stop_loss.stop_price:
            problems.append("take_profit.limit_price must be below stop_loss.stop_price")
    return problems


_CHANGES = ("qty", "limit_price", "stop_price")


class OrderUpdate(RequestModel):
    """A change to an open order: new quantity, limit or stop price."""

    # At least one of the three, not null: `not` refuses an object whose every property (if
    # any) is null (openapi-typescript ignores it, so the generated type stays a plain one).
    model_config = ConfigDict(
        json_schema_extra={
            "minProperties": 1,
            "not": {"properties": {name: {"type": "null"} for name in _CHANGES}},
            "examples": [{"limit_price": "190.25"}],
        }
    )

    qty: Quantity | None = None
    limit_price: Price | None = None
    stop_price: Price | None = None

    @model_validator(mode="after")
    def _something_changes(self) -> OrderUpdate:
        if self.qty is None and self.limit_price is None and self.stop_price is None:
            raise ValueError("give at least one of qty, limit_price, stop_price")
        problems = [
            off_tick_price("limit_price", self.limit_price),
            off_tick_price("stop_price", self.stop_price),
        ]
        found = [problem for problem in problems if problem is not None]
        if found:
            raise ValueError("; ".join(found))
        return self


class OrderLegRead(ApiModel):
    """An order with its current state (as a leg of a bracket, without legs of its own)."""

    id: int
    client_order_id: str
    symbol: str
    side: Side
    qty: DecimalStr
    type: OrderType = Field(validation_alias=AliasChoices("type", "order_type"))
    limit_price: DecimalStr | None
    stop_price: DecimalStr | None
    trail_amount: DecimalStr | None = None
    trail_percent: DecimalStr | None = None
    oca_group: str | None = None
    tif: TimeInForce
    outside_rth: bool
    tag: str | None = Field(default=None, description="your label, as placed (or the parent's)")
    status: OrderStatus
    filled_qty: DecimalStr
    avg_fill_price: AveragePrice | None
    broker_order_id: str | None
    perm_id: str | None
    reject_reason: str | None
    parent_id: int | None
    created_at: UTCDatetime
    submitted_at: UTCDatetime | None
    filled_at: UTCDatetime | None
    cancelled_at: UTCDatetime | None
    updated_at: UTCDatetime


class OrderRead(OrderLegRead):
    """An order with its current state; a bracket's parent lists its children in `legs`."""

    legs: list[OrderLegRead] = Field(default_factory=list)
    notice: str | None = Field(
        default=None,
        description="set in the answer of placing an order (and of closing a position) when"
        " it cannot work now and waits: the regular session is closed and the order is not"
        " outside_rth, or it is but the extended hours are closed too; null otherwise",
        examples=["waits for the regular session at 09:30 America/New_York (Thu 2026-12-03)"],
    )


class OrderPage(Page[OrderRead]):
    """A page of orders, newest first."""


StatusFilter = Literal["open", "closed", "all"] | OrderStatus


class OrderFilters(RequestModel):
    """Query parameters of `GET /api/v1/orders`."""

    status: StatusFilter = "all"
    symbol: Symbol | None = None
    side: Side | None = None
    tag: Tag | None = Field(default=None, description="only orders placed with this tag")
    since: QueryDatetime | None = Field(
        default=None, description="created at or after (ISO 8601; UTC when no offset)"
    )
    until: QueryDatetime | None = Field(
        default=None, description="created before (ISO 8601; UTC when no offset)"
    )
    limit: int = Field(default=100, ge=1, le=500)
    cursor: Cursor = None


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
    commission: Money
    currency: str
    executed_at: UTCDatetime


class FillPage(Page[FillRead]):
    """A page of fills, newest first."""


class FillFilters(RequestModel):
    """Query parameters of `GET /api/v1/fills`."""

    symbol: Symbol | None = None
    order_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    since: QueryDatetime | None = Field(
        default=None, description="executed at or after (ISO 8601; UTC when no offset)"
    )
    limit: int = Field(default=100, ge=1, le=500)
    cursor: Cursor = None


class CancelAllResult(ApiModel):
    """What `DELETE /api/v1/orders` did."""

    cancel_requested: list[OrderRead]
    failed: list[dict[str, Any]] = Field(default_factory=list)


class ClosePositionParams(RequestModel):
    """Query parameters of `DELETE /api/v1/positions/{symbol}`."""

    account_id: str | None = Field(default=None, max_length=32)
    outside_rth: bool = Field(
        default=False, description="let the closing market order work outside regular hours"
    )
    qty: Quantity | None = Field(
        default=None,
        description="close this many shares (at most the holding); default: all of it",
    )
    percentage: ClosePercentage | None = Field(
        default=None,
        description=(
            "close this percent of the holding, rounded down to the symbol's quantity step"
            " (whole shares unless it trades in fractions); not with `qty`"
        ),
    )

    @model_validator(mode="after")
    def _qty_or_percentage(self) -> ClosePositionParams:
        if self.qty is not None and self.percentage is not None:
            raise ValueError("give qty or percentage, not both")
        return self


class CloseAllParams(RequestModel):
    """Query parameters of `DELETE /api/v1/positions`."""

    account_id: str | None = Field(default=None, max_length=32)
    outside_rth: bool = Field(
        default=False, description="let the closing market orders work outside regular hours"
    )
    cancel_orders: bool = Field(
        default=False,
        description="cancel every open order first (its fills could reopen what is closed)",
    )


class ClosedPositions(ApiModel):
    """What closing every position did: the orders placed, and what could not be done."""

    orders: list[OrderRead] = Field(description="the closing market orders, one per position")
    failed: list[dict[str, Any]] = Field(
        default_factory=list,
        description=(
            "positions not closed: `symbol`, `account_id`, and the error's `code` and `message`"
        ),
    )
    cancel_requested: list[OrderRead] = Field(
        default_factory=list, description="open orders asked to cancel (`cancel_orders=true`)"
    )
    cancel_failed: list[dict[str, Any]] = Field(default_factory=list)
