"""Outgoing messages of market data streams, reference data and P&L (see `encoders.py` for
the conventions: one list of text fields per message, id first).

Field orders are those ib_async 2.1's `Decoder` reads (its `handlers` table: the `wrap`
entries skip the id and the version field where the message has one, `skip=1` where it
has none) and ibapi 10.x's `decoder.py` at server versions 176-178.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from stocks_api.broker.gateway.encoders import UNSET_DOUBLE, _msg, _num
from stocks_api.broker.gateway.model import IbBar, IbContract, IbPosition

# --- market data ---------------------------------------------------------------------


def update_mkt_depth(
    req_id: int, position: int, operation: int, side: int, price: Decimal, size: Decimal
) -> list[str]:
    """Market depth 12: operation 0 insert, 1 update, 2 delete; side 0 ask, 1 bid."""
    return _msg(12, 1, req_id, position, operation, side, price, size)


def update_mkt_depth_l2(
    req_id: int,
    position: int,
    market_maker: str,
    operation: int,
    side: int,
    price: Decimal,
    size: Decimal,
    smart: bool,
) -> list[str]:
    """Level-2 market depth 13 (the one a SMART-depth request gets)."""
    return _msg(13, 1, req_id, position, market_maker, operation, side, price, size, smart)


def realtime_bar(req_id: int, epoch: int, bar: IbBar) -> list[str]:
    """Real-time bar 50 (5 seconds), version 3."""
    b = bar
    return _msg(50, 3, req_id, epoch, b.open, b.high, b.low, b.close, b.volume, b.wap, b.count)


def tick_by_tick_last(
    req_id: int, kind: int, epoch: int, price: Decimal, size: Decimal, exchange: str
) -> list[str]:
    """Tick-by-tick 99 of type 1 (Last) or 2 (AllLast): no attributes, no conditions."""
    return _msg(99, req_id, kind, epoch, price, size, 0, exchange, "")


def tick_by_tick_bid_ask(
    req_id: int, epoch: int, bid: Decimal, ask: Decimal, bid_size: Decimal, ask_size: Decimal
) -> list[str]:
    return _msg(99, req_id, 3, epoch, bid, ask, bid_size, ask_size, 0)


def tick_by_tick_mid_point(req_id: int, epoch: int, mid: Decimal) -> list[str]:
    return _msg(99, req_id, 4, epoch, mid)


def historical_data_update(req_id: int, bar: IbBar) -> list[str]:
    """Historical data update 90 (keepUpToDate): barCount, date, open, close, high, low,
    average, volume (this order: ib_async `historicalDataUpdate`, ibapi
    `processHistoricalDataUpdateMsg`)."""
    b = bar
    return _msg(90, req_id, b.count, b.date, b.open, b.close, b.high, b.low, b.wap, b.volume)


def historical_ticks_mid(
    req_id: int, ticks: Sequence[tuple[int, Decimal]], done: bool = True
) -> list[str]:
    """Historical ticks 96 (MIDPOINT): time, an unused field, price, size 0."""
    fields = _msg(96, req_id, len(ticks))
    for epoch, price in ticks:
        fields += _msg(epoch, 0, price, 0)
    return [*fields, *_msg(done)]


def historical_ticks_bid_ask(
    req_id: int,
    ticks: Sequence[tuple[int, Decimal, Decimal, Decimal, Decimal]],
    done: bool = True,
) -> list[str]:
    """Historical ticks 97 (BID_ASK): time, attribute mask, bid, ask, bid size, ask size."""
    fields = _msg(96 + 1, req_id, len(ticks))
    for epoch, bid, ask, bid_size, ask_size in ticks:
        fields += _msg(epoch, 0, bid, ask, bid_size, ask_size)
    return [*fields, *_msg(done)]


def historical_ticks_last(
    req_id: int, ticks: Sequence[tuple[int, Decimal, Decimal]], exchange: str, done: bool = True
) -> list[str]:
    """Historical ticks 98 (TRADES): time, mask, price, size, exchange, conditions."""
    fields = _msg(98, req_id, len(ticks))
    for epoch, price, size in ticks:
        fields += _msg(epoch, 0, price, size, exchange, "")
    return [*fields, *_msg(done)]


def historical_schedule(
    req_id: int, start: str, end: str, zone: str, sessions: Sequence[tuple[str, str, str]]
) -> list[str]:
    """Historical schedule 106 (reqHistoricalData with whatToShow SCHEDULE)."""
    fields = _msg(106, req_id, start, end, zone, len(sessions))
    for opened, closed, ref_date in sessions:
        fields += _msg(opened, closed, ref_date)
    return fields


def head_timestamp(req_id: int, stamp: str) -> list[str]:
    return _msg(88, req_id, stamp)


def histogram_data(req_id: int, rows: Sequence[tuple[Decimal, int]]) -> list[str]:
    fields = _msg(89, req_id, len(rows))
    for price, count in rows:
        fields += _msg(price, count)
    return fields


# --- reference data ------------------------------------------------------------------


def symbol_samples(req_id: int, contracts: Sequence[IbContract], server_version: int) -> list[str]:
    """Symbol samples 79 (reqMatchingSymbols); from 176 each carries description and
    issuerId."""
    fields = _msg(79, req_id, len(contracts))
    for c in contracts:
        fields += _msg(c.con_id, c.symbol, c.sec_type, c.primary_exchange, c.currency, 0)
        if server_version >= 176:
            fields += _msg(c.long_name, "")
    return fields


def market_rule(rule_id: int, increments: Sequence[tuple[Decimal, Decimal]]) -> list[str]:
    """Market rule 93: (low edge, increment) pairs, lowest edge first."""
    fields = _msg(93, rule_id, len(increments))
    for low_edge, increment in increments:
        fields += _msg(low_edge, increment)
    return fields


def security_definition_option_parameter_end(req_id: int) -> list[str]:
    return _msg(76, req_id)


def soft_dollar_tiers(req_id: int) -> list[str]:
    return _msg(77, req_id, 0)


def family_codes(codes: Sequence[tuple[str, str]]) -> list[str]:
    fields = _msg(78, len(codes))
    for account, code in codes:
        fields += _msg(account, code)
    return fields


def mkt_depth_exchanges(rows: Sequence[tuple[str, str, str, str, int]]) -> list[str]:
    """Market depth exchanges 80: exchange, secType, listingExch, serviceDataType, aggGroup."""
    fields = _msg(80, len(rows))
    for row in rows:
        fields += _msg(*row)
    return fields


def smart_components(req_id: int, rows: Sequence[tuple[int, str, str]]) -> list[str]:
    fields = _msg(82, req_id, len(rows))
    for bit, exchange, letter in rows:
        fields += _msg(bit, exchange, letter)
    return fields


def news_providers(providers: Sequence[tuple[str, str]]) -> list[str]:
    fields = _msg(85, len(providers))
    for code, name in providers:
        fields += _msg(code, name)
    return fields


def historical_news_end(req_id: int, has_more: bool = False) -> list[str]:
    return _msg(87, req_id, has_more)


def scanner_parameters(xml: str) -> list[str]:
    return _msg(19, 1, xml)


def scanner_data_empty(req_id: int) -> list[str]:
    """Scanner data 20 with no rows (ib_async then calls scannerDataEnd)."""
    return _msg(20, 3, req_id, 0)


def user_info(req_id: int, white_branding_id: str = "") -> list[str]:
    return _msg(107, req_id, white_branding_id)


def receive_fa(data_type: int, xml: str) -> list[str]:
    return _msg(16, 1, data_type, xml)


def replace_fa_end(req_id: int, text: str) -> list[str]:
    return _msg(103, req_id, text)


def display_group_list(req_id: int, groups: str) -> list[str]:
    return _msg(67, 1, req_id, groups)


def display_group_updated(req_id: int, contract_info: str) -> list[str]:
    return _msg(68, 1, req_id, contract_info)


def verify_completed(ok: bool, text: str) -> list[str]:
    return _msg(66, 1, ok, text)


def verify_and_auth_completed(ok: bool, text: str) -> list[str]:
    return _msg(70, 1, ok, text)


# --- P&L and multi-account positions --------------------------------------------------


def pnl(req_id: int, daily: Decimal, unrealized: Decimal, realized: Decimal) -> list[str]:
    """P&L 94: daily, unrealized, realized (no version field)."""
    return _msg(94, req_id, daily, unrealized, realized)


def pnl_single(
    req_id: int,
    position: Decimal,
    daily: Decimal,
    unrealized: Decimal | None,
    realized: Decimal | None,
    value: Decimal,
) -> list[str]:
    """P&L of one position 95: position, daily, unrealized, realized, value."""
    return [
        *_msg(95, req_id, position, daily),
        _num(unrealized, UNSET_DOUBLE),
        _num(realized, UNSET_DOUBLE),
        _num(value),
    ]


def position_multi(req_id: int, p: IbPosition, model_code: str = "") -> list[str]:
    """Position multi 71, version 1: account, the contract (no primaryExchange field;
    the exchange field carries it, as for positions), position, average cost, model code."""
    c = p.contract
    return [
        *_msg(71, 1, req_id, p.account),
        *_msg(c.con_id, c.symbol, c.sec_type, "", "0", "", "", c.primary_exchange),
        *_msg(c.currency, c.local_symbol, c.trading_class),
        *_msg(p.position, p.avg_cost, model_code),
    ]
