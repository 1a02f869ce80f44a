"""IB's order terms in the engine's: which IB orders gateway-sim trades, and how.

Every placeOrder field is either honoured (`HONOURED_FIELDS`), taken with no effect
because it only routes or reports for a single simulated venue (`NO_EFFECT_FIELDS`), or
refused (`REFUSED_FIELDS`, `refused_terms`): an order is never traded with a term that IB
would act on dropped (an order IB would hold must not trade here).

`unsupported` tells why an order cannot be simulated (IB would reject it too);
`off_tick` why its prices are off the minimum price variation (IB's error 110);
`engine_request` is the matching engine's `OrderRequest` for an IB order, used when it is
placed and when a restart puts it back (`books.Books.restore_working`).
"""

from __future__ import annotations

from decimal import Decimal

from stocks_api.broker.gateway.model import IbOrder
from stocks_api.broker.gateway.requests import PlaceOrder
from stocks_api.broker.protocol import OrderRequest, OrderType, Side, TimeInForce
from stocks_api.core.ticks import off_tick_price, off_tick_trail_amount

ORDER_TYPES = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP_LIMIT,
    "TRAIL": OrderType.TRAILING_STOP,
}
# GTD works as GTC in the engine; gateway-sim cancels it at its goodTillDate.
TIFS = {
    "DAY": TimeInForce.DAY,
    "GTC": TimeInForce.GTC,
    "IOC": TimeInForce.IOC,
    "GTD": TimeInForce.GTC,
}
DEFAULT_OCA_TYPE = 1  # an ocaGroup sent with ocaType 0: IB's first type, cancel the others

HONOURED_FIELDS = (
    "action",
    "totalQuantity",
    "orderType (MKT, LMT, STP, STP LMT, TRAIL)",
    "lmtPrice",
    "auxPrice",
    "tif (DAY, GTC, IOC, GTD with goodTillDate: cancelled at that time)",
    "ocaGroup and ocaType (1 cancels the others on a fill, 2 and 3 reduce them in "
    "proportion; a bracket's children without one; echoed in openOrder)",
    "account",
    "orderRef",
    "transmit",
    "parentId (brackets, children one-cancels-other with or without an ocaGroup)",
    "outsideRth",
    "trailStopPrice",
    "trailingPercent",
    "whatIf (margin and commission answered, nothing placed)",
    "conditions (price, time, margin, execution, volume, percent change; and/or), "
    "conditionsIgnoreRth, conditionsCancelOrder: the order waits until they are met",
    "goodAfterTime (the order waits until then)",
)
NO_EFFECT_FIELDS = (
    "openClose, origin, shortSaleSlot, exemptCode, rule80A, settlingFirm (institutional)",
    "blockOrder, sweepToFill, optOutSmartRouting, hidden (one venue, no displayed book)",
    "eTradeOnly, firmQuoteOnly, nbboPriceCap, overridePercentageConstraints",
    "volatilityType, continuousUpdate, referencePriceType (volatility orders only)",
    "clearingAccount, clearingIntent, algoId, orderMiscOptions, solicited, randomizeSize, "
    "randomizePrice, softDollarTier, mifid2*, dontUseAutoPriceForHedge, isOmsContainer, "
    "usePriceMgmtAlgo, duration, postToAts, autoCancelParent, advancedErrorOverride, "
    "manualOrderTime (reporting)",
    "goodTillDate with a tif other than GTD (IB ignores it too)",
)
REFUSED_FIELDS = (
    "conditions or goodAfterTime on a bracket's order, an OCA group's or one sent with "
    "transmit=False",
    "tif OPG, FOK, GTX, DTC, AUC",
    "order types other than MKT, LMT, STP, STP LMT, TRAIL (REL, MOC, LOC, PEG..., VOL, ...)",
    "displaySize, triggerMethod, discretionaryAmt, allOrNone, minQty, percentOffset, "
    "auctionStrategy, startingPrice, stockRefPrice, delta, stockRangeLower/Upper, "
    "volatility, deltaNeutral*, scale*, activeStartTime/StopTime, hedgeType, notHeld, "
    "algoStrategy, adjustedOrderType and its prices, cashQty, faGroup/faMethod/"
    "faPercentage/faProfile, modelCode, designatedLocation, secIdType/secId, "
    "discretionaryUpToLimitPrice",
    "combo (BAG) orders, and any secType but STK",
)


def refused_terms(request: PlaceOrder) -> str | None:
    """Why `request` carries a term gateway-sim does not simulate; None when it does not.

    The terms are those of `REFUSED_FIELDS` that `requests.place_order` collects in
    `extras`.
    """
    problems = []
    if request.extras:
        problems.append(", ".join(request.extras))
    if not problems:
        return None
    return "gateway-sim does not simulate " + "; ".join(problems)


def unsupported(order: IbOrder) -> str | None:
    """Why the simulator cannot take `order`; None when it can."""
    if order.contract.sec_type != "STK":
        return "only stocks are simulated"
    if order.order_type not in ORDER_TYPES:
        return f"order type {order.order_type} is not simulated"
    if order.tif not in TIFS:
        return f"time in force {order.tif} is not simulated"
    if order.tif == "GTD" and order.good_till is None:
        return "time in force GTD needs a goodTillDate (YYYYMMDD HH:MM:SS [zone]) to come"
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
    standalone_oca = bool(order.oca_group) and parent is None and not order.bracket_parent_perm_id
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
        # An OCA group outside a bracket (a bracket child's is its parent's, typeless).
        oca_type=(order.oca_type or DEFAULT_OCA_TYPE) if standalone_oca else None,
    )
