"""Parsing the client requests the gateway simulator serves (field orders of ib_async/ibapi).

Only what the simulator acts on is kept; fields in between are skipped in the order the
clients send them at server versions 176-178 (ib_async `client.py`, ibapi `client.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from stocks_api.broker.gateway.wire import Fields, ProtocolViolationError


@dataclass(frozen=True, slots=True)
class ContractRequest:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str


@dataclass(frozen=True, slots=True)
class PlaceOrder:
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


def place_order(fields: Fields, server_version: int) -> PlaceOrder:
    """Parse a placeOrder (3) after its message id.

    Raises:
        ProtocolViolationError: the message is cut short or a number is malformed.
    """
    order_id = fields.int()
    the_contract = contract(fields)
    if the_contract.sec_type == "BAG":
        raise ProtocolViolationError("combo (BAG) orders are not simulated")
    fields.skip(2)  # secIdType, secId
    action = fields.str()
    total_qty = fields.decimal() or Decimal(0)
    order_type = fields.str()
    lmt_price = fields.decimal()
    aux_price = fields.decimal()
    tif = fields.str() or "DAY"
    oca_group = fields.str()
    account = fields.str()
    fields.skip(2)  # openClose, origin
    order_ref = fields.str()
    transmit = fields.bool()
    parent_id = fields.int()
    fields.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = fields.bool()
    fields.skip(1)  # hidden
    # "", discretionaryAmt, goodAfterTime, goodTillDate, faGroup, faMethod, faPercentage
    fields.skip(7)
    if server_version < 177:
        fields.skip(1)  # faProfile
    # modelCode ... volatilityType: 22 fields
    fields.skip(22)
    delta_neutral_order_type = fields.str()
    fields.skip(1)  # deltaNeutralAuxPrice
    if delta_neutral_order_type:
        fields.skip(8)
    fields.skip(2)  # continuousUpdate, referencePriceType
    trail_stop_price = fields.decimal()
    trailing_percent = fields.decimal()
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
    )


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
    """A time a request names (UTC), None when empty ("now", or no limit).

    Raises:
        ValueError: not IB's "YYYYMMDD HH:MM:SS" (or "YYYYMMDD-HH:MM:SS").
    """
    text = text.strip()
    if not text:
        return None
    stamp = text[:17].replace("-", " ")
    return datetime.strptime(stamp, "%Y%m%d %H:%M:%S").replace(tzinfo=UTC)
