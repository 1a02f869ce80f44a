"""Parsing the client requests the gateway simulator serves (field orders of ib_async/ibapi).

Only what the simulator acts on is kept; fields in between are skipped in the order the
clients send them at server versions 176-178 (ib_async `client.py`, ibapi `client.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stocks_api.broker.gateway.wire import Fields, ProtocolViolationError


class UnsupportedOrderError(ProtocolViolationError):
    """A placeOrder gateway-sim reads no further (a combo): refused with its order id."""

    def __init__(self, order_id: int, why: str) -> None:
        super().__init__(why)
        self.order_id = order_id


@dataclass(frozen=True, slots=True)
class ContractRequest:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str


@dataclass(frozen=True, slots=True)
class Condition:
    """One order condition, as placeOrder carries it (ib_async `order.py`, ibapi
    `order_condition.py`: type, conjunction, then the type's own fields)."""

    kind: int  # 1 price, 3 time, 4 margin, 5 execution, 6 volume, 7 percent change
    conjunction: str  # "a" (and) or "o" (or)
    values: tuple[str, ...]


# The fields each condition type carries after its type and conjunction.
CONDITION_FIELDS = {
    1: ("isMore", "price", "conId", "exchange", "triggerMethod"),
    3: ("isMore", "time"),
    4: ("isMore", "percent"),
    5: ("secType", "exchange", "symbol"),
    6: ("isMore", "volume", "conId", "exchange"),
    7: ("isMore", "changePercent", "conId", "exchange"),
}
CONDITION_NAMES = {
    1: "price",
    3: "time",
    4: "margin",
    5: "execution",
    6: "volume",
    7: "percent change",
}


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A placeOrder, every field read: what gateway-sim simulates as such, and in `extras`
    every other field a client set away from its default (by IB's field name), so that the
    order entry can refuse what it does not simulate instead of dropping it."""

    order_id: int
    contract: ContractRequest
    action: str
    total_qty: Decimal
    order_type: str
    lmt_price: Decimal | None
    aux_price: Decimal | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    trail_stop_price: Decimal | None
    trailing_percent: Decimal | None
    oca_type: int = 0
    good_till_date: str = ""
    good_after_time: str = ""
    what_if: bool = False
    conditions: tuple[Condition, ...] = ()
    conditions_ignore_rth: bool = False
    conditions_cancel_order: bool = False
    extras: tuple[str, ...] = ()  # names of fields set that gateway-sim does not simulate


def contract(fields: Fields) -> ContractRequest:
    """The 12 contract fields every request with a contract starts with."""
    con_id = fields.int()
    symbol = fields.str().upper()
    sec_type = fields.str()
    fields.skip(4)  # lastTradeDateOrContractMonth, strike, right, multiplier
    exchange = fields.str()
    fields.skip(1)  # primaryExchange
    currency = fields.str()
    fields.skip(2)  # localSymbol, tradingClass
    return ContractRequest(con_id, symbol, sec_type, exchange, currency)


class _Extras:
    """Collects the names of fields set away from their default."""

    def __init__(self, fields: Fields) -> None:
        self._fields = fields
        self.names: list[str] = []

    def text(self, name: str, *defaults: str) -> str:
        value = self._fields.str()
        if value.strip() not in ("", *defaults):
            self.names.append(name)
        return value

    def flag(self, name: str) -> bool:
        value = self._fields.bool()
        if value:
            self.names.append(name)
        return value

    def number(self, name: str, *defaults: Decimal) -> Decimal | None:
        value = self._fields.decimal()
        if value is not None and value not in defaults:
            self.names.append(name)
        return value

    def count(self, name: str) -> int:
        value = self._fields.int()
        if value:
            self.names.append(name)
        return value


def place_order(fields: Fields, server_version: int) -> PlaceOrder:
    """Parse a placeOrder (3) after its message id, every field in the order ib_async's
    `Client.placeOrder` and ibapi's `EClient.placeOrder` send them at versions 176-178.

    Raises:
        ProtocolViolationError: the message is cut short or a number is malformed, or it
            is a combo (BAG) order, which is not simulated.
    """
    order_id = fields.int()
    the_contract = contract(fields)
    if the_contract.sec_type == "BAG":
        raise UnsupportedOrderError(order_id, "combo (BAG) orders are not simulated")
    extra = _Extras(fields)
    extra.text("secIdType")
    extra.text("secId")
    action = fields.str()
    total_qty = fields.decimal() or Decimal(0)
    order_type = fields.str()
    lmt_price = fields.decimal()
    aux_price = fields.decimal()
    tif = fields.str() or "DAY"
    oca_group = fields.str()
    account = fields.str()
    fields.skip(2)  # openClose, origin (institutional; a customer order leaves them)
    order_ref = fields.str()
    transmit = fields.bool()
    parent_id = fields.int()
    fields.skip(2)  # blockOrder, sweepToFill: routing, one simulated venue
    extra.count("displaySize")
    extra.count("triggerMethod")
    outside_rth = fields.bool()
    fields.skip(1)  # hidden: the simulated book shows no resting orders anyway
    fields.skip(1)  # "" (deprecated sharesAllocation)
    extra.number("discretionaryAmt", Decimal(0))
    good_after_time = fields.str().strip()
    good_till_date = fields.str().strip()
    extra.text("faGroup")
    extra.text("faMethod")
    extra.text("faPercentage")
    if server_version < 177:
        extra.text("faProfile")
    extra.text("modelCode")
    fields.skip(1)  # shortSaleSlot
    extra.text("designatedLocation")
    fields.skip(1)  # exemptCode
    oca_type = fields.int()
    fields.skip(2)  # rule80A, settlingFirm
    extra.flag("allOrNone")
    extra.count("minQty")
    extra.number("percentOffset")
    fields.skip(3)  # eTradeOnly, firmQuoteOnly (always off), nbboPriceCap
    extra.count("auctionStrategy")
    for name in ("startingPrice", "stockRefPrice", "delta", "stockRangeLower", "stockRangeUpper"):
        extra.number(name)
    fields.skip(1)  # overridePercentageConstraints
    extra.number("volatility")
    fields.skip(1)  # volatilityType
    delta_neutral_order_type = extra.text("deltaNeutralOrderType", "None")
    fields.skip(1)  # deltaNeutralAuxPrice
    if delta_neutral_order_type:
        fields.skip(8)
    fields.skip(2)  # continuousUpdate, referencePriceType
    trail_stop_price = fields.decimal()
    trailing_percent = fields.decimal()
    extra.count("scaleInitLevelSize")
    extra.count("scaleSubsLevelSize")
    scale_increment = extra.number("scalePriceIncrement", Decimal(0))
    if scale_increment is not None and scale_increment > 0:
        fields.skip(7)
    extra.text("scaleTable")
    extra.text("activeStartTime")
    extra.text("activeStopTime")
    if extra.text("hedgeType"):
        fields.skip(1)  # hedgeParam
    fields.skip(3)  # optOutSmartRouting, clearingAccount, clearingIntent
    extra.flag("notHeld")
    if extra.flag("deltaNeutralContract"):
        fields.skip(3)
    if extra.text("algoStrategy"):
        fields.skip(2 * fields.int())
    fields.skip(1)  # algoId
    what_if = fields.bool()
    fields.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type.upper() in ("PEG BENCH", "PEGBENCH"):
        fields.skip(5)
    conditions: list[Condition] = []
    ignore_rth = cancel_order = False
    count = fields.int()
    if count:
        for _ in range(count):
            conditions.append(_condition(fields))
        ignore_rth = fields.bool()
        cancel_order = fields.bool()
    if fields.remaining:
        extra.text("adjustedOrderType", "None")
        for name in ("triggerPrice", "lmtPriceOffset", "adjustedStopPrice"):
            extra.number(name)
        for name in ("adjustedStopLimitPrice", "adjustedTrailingAmount"):
            extra.number(name)
        fields.skip(2)  # adjustableTrailingUnit, extOperator
        fields.skip(2)  # softDollarTier name and value
        extra.number("cashQty", Decimal(0))
        # mifid2 fields, dontUseAutoPriceForHedge, isOmsContainer: no effect on a fill
        fields.skip(6)
        extra.flag("discretionaryUpToLimitPrice")
        # usePriceMgmtAlgo, and the tail of newer versions (duration, postToAts,
        # autoCancelParent, advancedErrorOverride, manualOrderTime): nothing simulated.
    return PlaceOrder(
        order_id=order_id,
        contract=the_contract,
        action=action.upper(),
        total_qty=total_qty,
        order_type=order_type.upper(),
        lmt_price=lmt_price,
        aux_price=aux_price,
        tif=tif.upper(),
        oca_group=oca_group,
        account=account,
        order_ref=order_ref,
        transmit=transmit,
        parent_id=parent_id,
        outside_rth=outside_rth,
        trail_stop_price=trail_stop_price,
        trailing_percent=trailing_percent,
        oca_type=oca_type,
        good_till_date=good_till_date,
        good_after_time=good_after_time,
        what_if=what_if,
        conditions=tuple(conditions),
        conditions_ignore_rth=ignore_rth,
        conditions_cancel_order=cancel_order,
        extras=tuple(extra.names),
    )


def _condition(fields: Fields) -> Condition:
    kind = fields.int()
    names = CONDITION_FIELDS.get(kind)
    if names is None:
        raise ProtocolViolationError(f"unknown order condition type {kind}")
    conjunction = fields.str()
    return Condition(kind, conjunction, tuple(fields.str() for _ in names))


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """reqExecutions' filter (IB's ExecutionFilter); empty fields and client id 0 match all."""

    client_id: int
    account: str
    time: str  # executions after this: "YYYYMMDD HH:MM:SS" or "YYYYMMDD-HH:MM:SS" (UTC)
    symbol: str
    sec_type: str
    exchange: str
    side: str  # BUY or SELL


def execution_filter(fields: Fields) -> tuple[int, ExecutionFilter]:
    """reqExecutions (7): its request id and filter."""
    fields.skip(1)  # version
    req_id = fields.int()
    return req_id, ExecutionFilter(
        client_id=fields.int(),
        account=fields.str(),
        time=fields.str(),
        symbol=fields.str(),
        sec_type=fields.str(),
        exchange=fields.str(),
        side=fields.str(),
    )


def parse_time(text: str) -> datetime | None:
    """A time a request names, None when empty ("now", or no limit).

    IB's forms: "YYYYMMDD HH:MM:SS" followed by a time zone name ("US/Eastern", "UTC"),
    or "YYYYMMDD-HH:MM:SS" (UTC, what ib_async sends for an aware datetime); without a
    zone the time is taken as UTC, as everywhere in the API.

    Raises:
        ValueError: none of these forms, or a time zone nobody knows.
    """
    text = text.strip()
    if not text:
        return None
    stamp, zone = text[:17].replace("-", " "), text[17:].strip()
    at = datetime.strptime(stamp, "%Y%m%d %H:%M:%S").replace(tzinfo=UTC)
    if not zone:
        return at
    try:
        return at.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None
