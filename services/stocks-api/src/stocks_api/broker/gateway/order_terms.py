"""IB's order terms in the engine's: which IB orders gateway-sim trades, and how.

`unsupported` tells why an order cannot be simulated (IB would reject it too);
`off_tick` why its prices are off the minimum price variation (IB's error 110);
`engine_request` is the matching engine's `OrderRequest` for an IB order, used when it is
placed and when a restart puts it back (`books.Books.restore_working`).
"""

from __future__ import annotations

from decimal import Decimal

from stocks_api.broker.gateway.model import IbOrder
from stocks_api.broker.protocol import OrderRequest, OrderType, Side, TimeInForce
from stocks_api.core.ticks import off_tick_price, off_tick_trail_amount

ORDER_TYPES = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP_LIMIT,
    "TRAIL": OrderType.TRAILING_STOP,
}
TIFS = {"DAY": TimeInForce.DAY, "GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC}


def unsupported(order: IbOrder) -> str | None:
    """Why the simulator cannot take `order`; None when it can."""
    if order.contract.sec_type != "STK":
        return "only stocks are simulated"
    if order.order_type not in ORDER_TYPES:
        return f"order type {order.order_type} is not simulated"
    if order.tif not in TIFS:
        return f"time in force {order.tif} is not simulated"
    if order.action not in ("BUY", "SELL"):
        return f"action {order.action} is not supported"
    if order.total_qty <= 0:
        return "quantity must be positive"
    return None


def off_tick(
    order_type: str,
    lmt_price: Decimal | None,
    aux_price: Decimal | None,
    trailing_percent: Decimal | None,
) -> str | None:
    """Why a price of an order of `order_type` is off the US-equity increment; None if none is.

    The prices are a new order's, or those a modification asks for: IB checks both.
    """
    ours = ORDER_TYPES.get(order_type)
    problems = []
    if ours in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        problems.append(off_tick_price("lmtPrice", lmt_price))
    if ours in (OrderType.STOP, OrderType.STOP_LIMIT):
        problems.append(off_tick_price("auxPrice", aux_price))
    if ours is OrderType.TRAILING_STOP and trailing_percent is None:
        problems.append(off_tick_trail_amount("auxPrice", aux_price))
    return next((problem for problem in problems if problem is not None), None)


def engine_request(order: IbOrder, parent: IbOrder | None) -> OrderRequest:
    """The engine's request for `order` (a bracket child names its `parent`)."""
    order_type = ORDER_TYPES[order.order_type]
    trailing = order_type is OrderType.TRAILING_STOP
    return OrderRequest(
        client_order_id=f"gw{order.perm_id}",
        symbol=order.contract.symbol,
        side=Side.BUY if order.action == "BUY" else Side.SELL,
        qty=order.total_qty,
        order_type=order_type,
        tif=TIFS[order.tif],
        limit_price=order.lmt_price
        if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        else None,
        stop_price=order.aux_price
        if order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        else None,
        outside_rth=order.outside_rth,
        trail_amount=order.aux_price if trailing and order.trailing_percent is None else None,
        trail_percent=order.trailing_percent if trailing else None,
        parent_client_order_id=None if parent is None else f"gw{parent.perm_id}",
        # IB makes a bracket's children one-cancels-other without a group of their own.
        oca_group=order.oca_group or (None if parent is None else f"gw-bracket{parent.perm_id}"),
    )
