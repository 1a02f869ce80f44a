"""Pure converters between ib_async's objects and our neutral broker models.

Fresh IB objects are built from ours every time (ib_async mutates the `Order` it is
given), and nothing here does I/O, so every rule is unit-testable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ib_async import BarData, ExecutionFilter, Fill, Order, Stock, Trade

from stocks_api.broker.protocol import (
    Bar,
    BarInterval,
    BrokerOrderStatus,
    Execution,
    OrderChange,
    OrderRequest,
    OrderStatusUpdate,
    OrderType,
    Side,
)

# IB's "no value" double, as ib_async keeps it in its objects.
UNSET_DOUBLE = 1.7976931348623157e308

IB_ORDER_TYPES = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.STOP: "STP",
    OrderType.STOP_LIMIT: "STP LMT",
    OrderType.TRAILING_STOP: "TRAIL",
}
BAR_SIZES = {
    BarInterval.M1: ("1 min", 60),
    BarInterval.M5: ("5 mins", 300),
    BarInterval.H1: ("1 hour", 3600),
    BarInterval.D1: ("1 day", 86400),
}
# IB statuses that mean the order works (or waits to) at the broker.
WORKING = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted"})
# Error codes that cancel an order the broker had accepted (not a rejection of a new one).
CANCEL_CODES = frozenset({202, 10148})


def stock(symbol: str) -> Stock:
    """The IB contract of a US stock routed through SMART."""
    return Stock(symbol, "SMART", "USD")


def _price(value: Decimal | None) -> float:
    return UNSET_DOUBLE if value is None else float(value)


def ib_order(request: OrderRequest, *, order_id: int = 0, parent_id: int = 0) -> Order:
    """A new ib_async `Order` for `request`; `orderRef` carries our client_order_id."""
    order = Order(
        orderId=order_id,
        action="BUY" if request.side is Side.BUY else "SELL",
        totalQuantity=float(request.qty),
        orderType=IB_ORDER_TYPES[request.order_type],
        tif=request.tif.value.upper(),
        outsideRth=request.outside_rth,
        orderRef=request.client_order_id,
        parentId=parent_id,
        ocaGroup=request.oca_group or "",
    )
    if request.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        order.lmtPrice = _price(request.limit_price)
    if request.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        order.auxPrice = _price(request.stop_price)
    if request.order_type is OrderType.TRAILING_STOP:
        if request.trail_percent is not None:
            order.trailingPercent = float(request.trail_percent)
        else:
            order.auxPrice = _price(request.trail_amount)
    if request.oca_group:
        order.ocaType = 1  # cancel the others when one fills (IB's bracket behaviour)
    return order


def changed_order(current: Order, change: OrderChange) -> Order:
    """A copy of `current` with `change` applied (same orderId: IB's modification)."""
    order = Order(**{name: getattr(current, name) for name in current.__dataclass_fields__})
    if change.qty is not None:
        order.totalQuantity = float(change.qty)
    if change.limit_price is not None:
        order.lmtPrice = float(change.limit_price)
    if change.stop_price is not None:
        order.auxPrice = float(change.stop_price)
    return order


def _decimal(value: float | Decimal) -> Decimal:
    # IB's floats carry prices and sizes with at most a few decimals: round-trip via str.
    return Decimal(str(value)).normalize() if value == value else Decimal(0)


def status_update(
    trade: Trade, at: datetime, *, changing: bool = False
) -> OrderStatusUpdate | None:
    """Our status event for an ib_async order status (None: nothing we track changed).

    It carries IB's quantity (IB reduces a bracket leg when its sibling fills in part)
    unless we are `changing` the order ourselves, when IB's figure may be the old one.
    """
    status = trade.orderStatus.status
    filled = _decimal(trade.orderStatus.filled)
    remaining = _decimal(trade.orderStatus.remaining)
    reason = None
    if status in WORKING:
        if status == "PendingSubmit" or status == "ApiPending":
            return None
        ours = BrokerOrderStatus.SUBMITTED
    elif status == "Filled":
        ours = BrokerOrderStatus.FILLED
    elif status in ("Cancelled", "ApiCancelled", "Inactive"):
        error = next((e for e in reversed(trade.log) if e.errorCode), None)
        rejected = error is not None and error.errorCode not in CANCEL_CODES and filled == 0
        ours = (
            BrokerOrderStatus.REJECTED
            if rejected or status == "Inactive"
            else BrokerOrderStatus.CANCELLED
        )
        reason = error.message if error is not None else None
    else:
        return None
    return OrderStatusUpdate(
        client_order_id=trade.order.orderRef,
        broker_order_id=str(trade.order.orderId),
        status=ours,
        filled_qty=filled,
        remaining_qty=remaining,
        ts=at,
        reason=reason,
        payload={"ib_status": status, "perm_id": trade.order.permId},
        stop_price=_trail_stop(trade.order),
        qty=None if changing else _decimal(trade.order.totalQuantity),
    )


def _trail_stop(order: Order) -> Decimal | None:
    """A trailing stop's current level, which IB sends with the order."""
    price = order.trailStopPrice
    if order.orderType != "TRAIL" or price is None or not 0 < price < UNSET_DOUBLE:
        return None
    return _decimal(price)


def execution(
    trade: Trade, fill: Fill, account: str, *, received: datetime | None = None
) -> Execution:
    """Our execution for an ib_async fill with its commission report, `received` when."""
    report = fill.commissionReport
    commission = _decimal(report.commission) if report.commission < UNSET_DOUBLE else Decimal(0)
    return Execution(
        exec_id=fill.execution.execId,
        client_order_id=trade.order.orderRef or fill.execution.orderRef,
        broker_order_id=str(fill.execution.orderId),
        account_id=fill.execution.acctNumber or account,
        symbol=fill.contract.symbol,
        side=Side.BUY if fill.execution.side == "BOT" else Side.SELL,
        qty=_decimal(fill.execution.shares),
        price=_decimal(fill.execution.price),
        commission=commission,
        ts=execution_time(aware(fill.execution.time), received),
        currency=report.currency or "USD",
    )


def bar(ib_bar: BarData) -> Bar:
    """Our bar for an ib_async bar."""
    start = ib_bar.date
    if not isinstance(start, datetime):
        start = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return Bar(
        start=aware(start),
        open=_decimal(ib_bar.open),
        high=_decimal(ib_bar.high),
        low=_decimal(ib_bar.low),
        close=_decimal(ib_bar.close),
        volume=_decimal(ib_bar.volume),
    )


def duration_for(interval: BarInterval, limit: int) -> str:
    """IB's duration string that covers `limit` bars of `interval`."""
    seconds = BAR_SIZES[interval][1] * limit
    if seconds <= 86400:
        return f"{max(seconds, 60)} S"
    return f"{-(-seconds // 86400)} D"


def execution_time(reported: datetime, received: datetime | None) -> datetime:
    """When an execution happened, as closely as we can tell.

    IB reports execution times to the second. An execution that arrives within its
    reported second happened between the two, so the arrival time is the closer estimate
    (and a fill cannot appear to predate the order it fills). Executions replayed later
    keep IB's time.
    """
    if received is not None and reported <= received < reported + timedelta(seconds=1):
        return received
    return reported


# Executions are replayed from this long before the newest one known: IB's clock and
# ours differ, and its times have whole seconds.
REPLAY_MARGIN = timedelta(minutes=1)


def executions_since(last: datetime | None) -> ExecutionFilter:
    """The reqExecutions filter of a replay: all executions, or those since `last` (less a
    margin), in IB's UTC notation "YYYYMMDD-HH:MM:SS"."""
    if last is None:
        return ExecutionFilter()
    return ExecutionFilter(time=(last - REPLAY_MARGIN).astimezone(UTC).strftime("%Y%m%d-%H:%M:%S"))


def aware(at: datetime) -> datetime:
    """`at` in UTC; IB's naive times are UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
