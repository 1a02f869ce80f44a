"""The gateway simulator's outgoing messages, each as its list of text fields.

Every function returns one message: the message id first, then the version field where
the message still carries one at these server versions, then the data fields. The caller
frames the list (length prefix, each field ended by NUL).

Field orders are those the clients read at server versions 176-178 of the text protocol:
ib_async 2.1's `Decoder` (ib_async/decoder.py: `openOrder`, `completedOrder`,
`contractDetails`, `execDetails`, `updatePortfolio`, `position`, `commissionReport`,
`historicalData`, `errorMsg`, `priceSizeTick`, and the `wrap(...)` table for the short
ones) and IBKR's ibapi 10.x (ibapi/decoder.py and ibapi/orderdecoder.py, text path),
whose layouts agree at these versions. Where a layout changes within 176-178 the function
takes `server_version`: open and completed orders lose faProfile at 177
(MIN_SERVER_VER_FA_PROFILE_DESUPPORT), executions gain pendingPriceRevision at 178
(MIN_SERVER_VER_PENDING_PRICE_REVISION).

Values: booleans "1"/"0"; numbers in plain decimal notation (`_num`); counts always
present. An unset double is IB's max double and an unset int IB's max int, which both
clients read back as their "unset" value (empty would do for ib_async, but ibapi turns an
empty plain-float field into 0).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC
from decimal import Decimal

from stocks_api.broker.gateway.account import WhatIf
from stocks_api.broker.gateway.model import (
    IbBar,
    IbCommission,
    IbContract,
    IbExecution,
    IbOrder,
    IbPosition,
)

UNSET_DOUBLE = "1.7976931348623157E308"
UNSET_INTEGER = "2147483647"

MIN_SERVER_VERSION = 176
MAX_SERVER_VERSION = 178
_FA_PROFILE_DESUPPORT = 177
_PENDING_PRICE_REVISION = 178
_ADVANCED_ORDER_REJECT = 166
_ERROR_TIME = 194  # ibapi's MIN_SERVER_VER_ERROR_TIME: no version field, a time at the end

_ORDER_TYPES = "DAY,GTC,IOC,LMT,MKT,OCA,STP,STPLMT,TRAIL"

Field = str | int | bool | Decimal


def _num(value: Decimal | None, unset: str = UNSET_DOUBLE) -> str:
    """`value` in plain notation without trailing zeros ("101.5", "100", "0.0001")."""
    if value is None:
        return unset
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _msg(*values: Field) -> list[str]:
    fields: list[str] = []
    for value in values:
        if isinstance(value, bool):
            fields.append("1" if value else "0")
        elif isinstance(value, Decimal):
            fields.append(_num(value))
        else:
            fields.append(str(value))
    return fields


def _check_version(server_version: int) -> None:
    if not MIN_SERVER_VERSION <= server_version <= MAX_SERVER_VERSION:
        raise ValueError(
            f"server version {server_version} not in {MIN_SERVER_VERSION}-{MAX_SERVER_VERSION}"
        )


def _contract(c: IbContract, exchange: str) -> list[str]:
    """conId .. tradingClass, as orders, executions, positions and portfolio carry it."""
    return [
        *_msg(c.con_id, c.symbol, c.sec_type),
        *_msg("", "0", "", ""),  # lastTradeDateOrContractMonth, strike, right, multiplier
        *_msg(exchange, c.currency, c.local_symbol, c.trading_class),
    ]


# --- session -------------------------------------------------------------------------


def managed_accounts(accounts: Sequence[str]) -> list[str]:
    return _msg(15, 1, ",".join(accounts))


def next_valid_id(order_id: int) -> list[str]:
    return _msg(9, 1, order_id)


def current_time(epoch_seconds: int) -> list[str]:
    return _msg(49, 1, epoch_seconds)


def error(
    req_id: int,
    code: int,
    message: str,
    advanced_order_reject_json: str = "",
    error_time_ms: int | None = None,
    server_version: int = MAX_SERVER_VERSION,
) -> list[str]:
    """Error/notice 4. Below 194 (all versions served here) it has a version field and no
    time; ib_async 2.1 reads nothing past advancedOrderRejectJson in any case."""
    if server_version >= _ERROR_TIME:
        millis = time.time_ns() // 1_000_000 if error_time_ms is None else error_time_ms
        return _msg(4, req_id, code, message, advanced_order_reject_json, millis)
    fields = _msg(4, 2, req_id, code, message)
    if server_version >= _ADVANCED_ORDER_REJECT:
        fields.append(advanced_order_reject_json)
    return fields


# --- contracts -----------------------------------------------------------------------


def contract_details(
    req_id: int,
    contract: IbContract,
    server_version: int,
    *,
    size_increment: Decimal = Decimal(1),
    trading_hours: str = "",
    liquid_hours: str = "",
    market_rule_ids: str = "",
) -> list[str]:
    """Contract details 10 of a stock (no version field since 164)."""
    _check_version(server_version)
    c = contract
    # IB escapes non-ASCII text; both clients undo it with "unicode-escape".
    long_name = c.long_name.encode("unicode-escape").decode("ascii")
    return [
        *_msg(10, req_id, c.symbol, c.sec_type),
        *_msg("", "0", ""),  # lastTradeDateOrContractMonth[-time[-zone]], strike, right
        *_msg(c.exchange, c.currency, c.local_symbol),
        *_msg(c.trading_class, c.trading_class, c.con_id, c.min_tick),  # marketName first
        *_msg("", _ORDER_TYPES, f"{c.exchange},{c.primary_exchange}"),  # multiplier ..
        *_msg(1, 0, long_name, c.primary_exchange),  # priceMagnifier, underConId ..
        *_msg("", "", "", ""),  # contractMonth, industry, category, subcategory
        *_msg("US/Eastern", trading_hours, liquid_hours),
        *_msg("", 0, 0, 1),  # evRule, evMultiplier, secIdList count, aggGroup
        *_msg("", "", market_rule_ids, ""),  # underSymbol, underSecType, marketRuleIds, ..
        *_msg("COMMON", size_increment, size_increment, 100),  # stockType, size rules
    ]


def contract_details_end(req_id: int) -> list[str]:
    return _msg(52, 1, req_id)


# --- orders --------------------------------------------------------------------------


def _order_terms(o: IbOrder) -> list[str]:
    """action .. orderRef, common to open and completed orders."""
    return [
        *_msg(o.action, o.total_qty, o.order_type, _num(o.lmt_price), _num(o.aux_price)),
        *_msg(o.tif, o.oca_group, o.account),
        *_msg("", 0),  # openClose, origin (customer)
        o.order_ref,
    ]


def _fa_params(server_version: int) -> list[str]:
    """faGroup, faMethod, faPercentage and, before 177, faProfile."""
    return ["", "", ""] + ([""] if server_version < _FA_PROFILE_DESUPPORT else [])


def _peg_mid_offsets() -> list[str]:
    """minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAtWhole/Half."""
    return [UNSET_INTEGER, UNSET_INTEGER, UNSET_DOUBLE, UNSET_DOUBLE, UNSET_DOUBLE]


def _open_order_head(o: IbOrder, server_version: int) -> list[str]:
    """orderId .. goodAfterTime, sharesAllocation, FA params."""
    return [
        *_msg(5, o.order_id),
        *_contract(o.contract, o.contract.exchange),
        *_order_terms(o),
        *_msg(o.client_id, o.perm_id, o.outside_rth),
        *_msg(False, 0, o.good_after_time),  # hidden, discretionaryAmt, goodAfterTime
        "",  # sharesAllocation (deprecated)
        *_fa_params(server_version),
    ]


def _open_order_body(o: IbOrder) -> list[str]:
    """modelCode .. algoStrategy: everything a plain stock order leaves at its default."""
    return [
        *_msg("", o.good_till_date, "", UNSET_DOUBLE, ""),  # modelCode, GTD, rule80A, ..
        *_msg(0, "", -1, 0),  # shortSaleSlot, designatedLocation, exemptCode, auctionStrat.
        *[UNSET_DOUBLE] * 5,  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
        *_msg(0, False, False, False, UNSET_INTEGER, o.oca_type),  # displaySize .. ocaType
        *_msg(False, False, UNSET_DOUBLE),  # eTradeOnly, firmQuoteOnly, nbboPriceCap
        *_msg(o.parent_id, 0),  # parentId, triggerMethod
        *_msg(UNSET_DOUBLE, UNSET_INTEGER, "", UNSET_DOUBLE),  # volatility .. dN aux price
        *_msg(False, UNSET_INTEGER),  # continuousUpdate, referencePriceType
        _num(o.trail_stop_price),
        _num(o.trailing_percent),
        *_msg(UNSET_DOUBLE, UNSET_INTEGER),  # basisPoints, basisPointsType
        *_msg("", 0, 0, 0),  # comboLegsDescrip, comboLegs, orderComboLegs, smartCombo params
        *_msg(UNSET_INTEGER, UNSET_INTEGER, UNSET_DOUBLE),  # scale init/subs/increment
        "",  # hedgeType
        *_msg(False, "", "", False),  # optOutSmartRouting, clearingAcct/Intent, notHeld
        *_msg(False, ""),  # deltaNeutralContract present, algoStrategy
    ]


def _open_order_state(o: IbOrder, what_if: WhatIf | None) -> list[str]:
    """solicited, whatIf and the OrderState: status, margins, commission.

    A what-if order's answer carries the margins and equity with loan before, the change
    and after, and the commission it would cost (ib_async completes `whatIfOrder` on an
    openOrder with whatIf set and initMarginChange set)."""
    if what_if is not None:
        w = what_if
        margins = [
            *_msg(w.init_before, w.maint_before, w.equity_before),
            *_msg(w.init_change, w.maint_change, w.equity_change),
            *_msg(w.init_after, w.maint_after, w.equity_after),
        ]
        return [
            *_msg(False, True, "PreSubmitted"),
            *margins,
            _num(w.commission),
            *_msg(UNSET_DOUBLE, UNSET_DOUBLE, o.contract.currency, w.warning),
            *_msg(False, False, 0),  # randomizeSize, randomizePrice, conditions count
        ]
    currency = o.contract.currency if o.commission is not None else ""
    return [
        *_msg(False, False, o.status),
        *[UNSET_DOUBLE] * 9,  # init/maint margin and equity with loan: before, change, after
        _num(o.commission),
        *_msg(UNSET_DOUBLE, UNSET_DOUBLE, currency, ""),  # min/max commission, warningText
        *_msg(False, False),  # randomizeSize, randomizePrice
        *_conditions(o),
    ]


def _conditions(o: IbOrder) -> list[str]:
    """The order's conditions as placeOrder carried them, then the two condition flags."""
    if not o.conditions:
        return ["0"]
    fields = [str(len(o.conditions))]
    for condition in o.conditions:
        fields += [str(value) for value in condition]
    return [*fields, *_msg(o.conditions_ignore_rth, o.conditions_cancel_order)]


def _open_order_tail(o: IbOrder) -> list[str]:
    """Adjusted-order params .. the peg mid offsets."""
    return [
        *_msg("", UNSET_DOUBLE),  # adjustedOrderType, triggerPrice
        _num(o.trail_stop_price),  # read a second time, now without "unset" handling
        *[UNSET_DOUBLE] * 4,  # lmtPriceOffset, adjustedStop/StopLimit price, adj. trail amt
        *_msg(0, "", "", ""),  # adjustableTrailingUnit, softDollarTier name/value/display
        UNSET_DOUBLE,  # cashQty
        *_msg(False, False, False, False),  # dontUseAutoPriceForHedge .. usePriceMgmtAlgo
        *_msg(UNSET_INTEGER, UNSET_INTEGER, False),  # duration, postToAts, autoCancelParent
        *_peg_mid_offsets(),
    ]


def open_order(order: IbOrder, server_version: int, what_if: WhatIf | None = None) -> list[str]:
    """Open order 5 (no version field since 145). Carries no `transmit`: IB never echoes it.
    With `what_if`, the answer to a what-if order (nothing was placed)."""
    _check_version(server_version)
    return [
        *_open_order_head(order, server_version),
        *_open_order_body(order),
        *_open_order_state(order, what_if),
        *_open_order_tail(order),
    ]


def open_order_end() -> list[str]:
    return _msg(53, 1)


def _completed_order_body(o: IbOrder) -> list[str]:
    """modelCode .. solicited: the open order's layout less its open-order-only fields."""
    return [
        *_msg("", o.good_till_date, "", UNSET_DOUBLE, ""),  # modelCode, GTD, rule80A, ..
        *_msg(0, "", -1),  # shortSaleSlot, designatedLocation, exemptCode
        *[UNSET_DOUBLE] * 5,  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
        *_msg(0, False, False, UNSET_INTEGER, o.oca_type, 0),  # displaySize .. triggerMethod
        *_msg(UNSET_DOUBLE, UNSET_INTEGER, "", UNSET_DOUBLE),  # volatility .. dN aux price
        *_msg(False, UNSET_INTEGER),  # continuousUpdate, referencePriceType
        _num(o.trail_stop_price),
        _num(o.trailing_percent),
        *_msg("", 0, 0, 0),  # comboLegsDescrip, comboLegs, orderComboLegs, smartCombo params
        *_msg(UNSET_INTEGER, UNSET_INTEGER, UNSET_DOUBLE),  # scale init/subs/increment
        *_msg("", "", "", False),  # hedgeType, clearingAccount, clearingIntent, notHeld
        *_msg(False, "", False),  # deltaNeutralContract present, algoStrategy, solicited
    ]


def _completed_order_tail(o: IbOrder) -> list[str]:
    """status .. completedStatus and the peg mid offsets."""
    return [
        *_msg(o.status, False, False),  # status, randomizeSize, randomizePrice
        *_conditions(o),
        _num(o.trail_stop_price),
        *_msg(UNSET_DOUBLE, UNSET_DOUBLE),  # lmtPriceOffset, cashQty
        *_msg(False, False, ""),  # dontUseAutoPriceForHedge, isOmsContainer, autoCancelDate
        *_msg(o.filled, 0, False, "", False, False),  # filledQty, refFuturesConId .. BBO
        *_msg(0, o.completed_time, o.completed_status),  # parentPermId, completed time/status
        *_peg_mid_offsets(),
    ]


def completed_order(order: IbOrder, server_version: int) -> list[str]:
    """Completed order 101: no order id or client id, only the permId."""
    _check_version(server_version)
    o = order
    return [
        "101",
        *_contract(o.contract, o.contract.exchange),
        *_order_terms(o),
        *_msg(o.perm_id, o.outside_rth),
        *_msg(False, 0, o.good_after_time),  # hidden, discretionaryAmt, goodAfterTime
        *_fa_params(server_version),
        *_completed_order_body(o),
        *_completed_order_tail(o),
    ]


def completed_orders_end() -> list[str]:
    return ["102"]


def order_status(order: IbOrder) -> list[str]:
    """Order status 3 (no version field since 131)."""
    o = order
    return [
        *_msg(3, o.order_id, o.status, o.filled, o.remaining, o.avg_fill_price, o.perm_id),
        *_msg(o.parent_id, o.last_fill_price, o.client_id, o.why_held),
        "0",  # mktCapPrice
    ]


# --- executions ----------------------------------------------------------------------


def exec_details(req_id: int, execution: IbExecution, server_version: int) -> list[str]:
    """Execution 11 (no version field since 136); -1 as req_id for a live fill."""
    _check_version(server_version)
    e = execution
    when = e.time.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")
    fields = [
        *_msg(11, req_id, e.order_id),
        *_contract(e.contract, e.exchange),
        *_msg(e.exec_id, when, e.account, e.exchange, e.side, e.shares, e.price),
        *_msg(e.perm_id, e.client_id, e.liquidation, e.cum_qty, e.avg_price, e.order_ref),
        *_msg("", 0, "", 0),  # evRule, evMultiplier, modelCode, lastLiquidity
    ]
    if server_version >= _PENDING_PRICE_REVISION:
        fields.append("0")
    return fields


def exec_details_end(req_id: int) -> list[str]:
    return _msg(55, 1, req_id)


def commission_report(c: IbCommission) -> list[str]:
    """Commission report 59; a stock has no yield, so that is unset like IB sends it."""
    fields = _msg(59, 1, c.exec_id, c.commission, c.currency, _num(c.realized_pnl))
    return [*fields, UNSET_DOUBLE, "0"]  # yield, yieldRedemptionDate


# --- positions and accounts ----------------------------------------------------------


def position(p: IbPosition) -> list[str]:
    """Position 61, version 3 (with tradingClass and avgCost)."""
    # The exchange field carries the primary exchange, as IB fills it for positions.
    contract = _contract(p.contract, p.contract.primary_exchange)
    return [*_msg(61, 3, p.account), *contract, *_msg(p.position, p.avg_cost)]


def position_end() -> list[str]:
    return _msg(62, 1)


def update_account_value(key: str, value: str, currency: str, account: str) -> list[str]:
    return _msg(6, 2, key, value, currency, account)


def update_portfolio(p: IbPosition, server_version: int) -> list[str]:
    """Portfolio value 7, version 8: the same layout at 176-178."""
    _check_version(server_version)
    contract = _contract(p.contract, p.contract.primary_exchange)  # primaryExchange slot
    values = _msg(p.position, p.market_price, p.market_value, p.avg_cost)
    pnl = _msg(p.unrealized_pnl, p.realized_pnl, p.account)
    return [*_msg(7, 8), *contract, *values, *pnl]


def update_account_time(hh_mm: str) -> list[str]:
    return _msg(8, 1, hh_mm)


def account_download_end(account: str) -> list[str]:
    return _msg(54, 1, account)


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> list[str]:
    return _msg(63, 1, req_id, account, tag, value, currency)


def account_summary_end(req_id: int) -> list[str]:
    return _msg(64, 1, req_id)


def account_update_multi(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> list[str]:
    return _msg(73, 1, req_id, account, model_code, key, value, currency)


def account_update_multi_end(req_id: int) -> list[str]:
    return _msg(74, 1, req_id)


def position_multi_end(req_id: int) -> list[str]:
    return _msg(72, 1, req_id)


# --- market data ---------------------------------------------------------------------


def tick_price(
    req_id: int, tick_type: int, price: Decimal, size: Decimal | None, attrib_mask: int = 0
) -> list[str]:
    """Tick price 1, version 6: the size rides along (bid, ask and last ticks need one;
    ib_async takes size 0 on a bid or ask as an empty side)."""
    return _msg(1, 6, req_id, tick_type, price, _num(size, unset="0"), attrib_mask)


def tick_size(req_id: int, tick_type: int, size: Decimal) -> list[str]:
    return _msg(2, 6, req_id, tick_type, size)


def tick_generic(req_id: int, tick_type: int, value: Decimal) -> list[str]:
    return _msg(45, 6, req_id, tick_type, value)


def tick_string(req_id: int, tick_type: int, value: str) -> list[str]:
    return _msg(46, 6, req_id, tick_type, value)


def tick_snapshot_end(req_id: int) -> list[str]:
    return _msg(57, 1, req_id)


def market_data_type(req_id: int, data_type: int) -> list[str]:
    return _msg(58, 1, req_id, data_type)


def tick_req_params(
    req_id: int, min_tick: Decimal, bbo_exchange: str, snapshot_permissions: int
) -> list[str]:
    """Tick request parameters 81 (no version field)."""
    return _msg(81, req_id, min_tick, bbo_exchange, snapshot_permissions)


def historical_data(
    req_id: int, bars: Sequence[IbBar], start: str, end: str, server_version: int
) -> list[str]:
    """Historical data 17: no version field (since 124); start, end and the bar count stay
    until 196, so this one message also ends the request (no historicalDataEnd 108)."""
    _check_version(server_version)
    fields = _msg(17, req_id, start, end, len(bars))
    for b in bars:
        fields += _msg(b.date, b.open, b.high, b.low, b.close, b.volume, b.wap, b.count)
    return fields
