"""The request handlers of contracts and market data: what gateway-sim answers a client's
reqContractDetails, reqMktData, cancelMktData and reqHistoricalData with.

Each handler parses its request (`requests.py`), asks the backend (`backend.py`) and
answers in IB's messages (`encoders.py`); `handlers.py` maps message ids to them.
Streaming quotes are sent by the gateway on its ticks to the subscriptions kept here in
`Session.market_data`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from stocks_api.broker.gateway import encoders, encoders_market
from stocks_api.broker.gateway import requests as parse
from stocks_api.broker.gateway.codes import (
    DELAYED_DATA_SHOWN,
    HISTORICAL_DATA_ERROR,
    MAX_TICKERS,
    NO_MARKET_DATA_SUBSCRIPTION,
    NO_SECURITY_DEFINITION,
    NO_SECURITY_DEFINITION_TEXT,
    VALIDATION_ERROR,
)
from stocks_api.broker.gateway.handlers_reference import MARKET_RULE_ID
from stocks_api.broker.gateway.model import IbBar, IbContract
from stocks_api.broker.gateway.session import MAX_MARKET_DATA_LINES, Session
from stocks_api.broker.gateway.streams import BarUpdates
from stocks_api.broker.gateway.wire import Fields
from stocks_api.broker.protocol import Bar, BarInterval
from stocks_api.core.calendar import SessionCalendar

# reqHistoricalData's bar sizes and duration units (IB's notation).
_BAR_SIZES = {
    "1 min": (BarInterval.M1, 60),
    "5 mins": (BarInterval.M5, 300),
    "1 hour": (BarInterval.H1, 3600),
    "1 day": (BarInterval.D1, 86400),
}
_DURATION_UNITS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
MAX_BARS = 5000
# ADJUSTED_LAST is TRADES: the simulator has no splits or dividends to adjust for.
_WHAT_TO_SHOW = frozenset({"TRADES", "MIDPOINT", "ADJUSTED_LAST", "SCHEDULE"})


def resolve_contract(session: Session, wanted: parse.ContractRequest) -> IbContract | None:
    """The traded contract a request names, by symbol or else by conId (as IB resolves a
    contract given by its conId alone)."""
    backend = session.backend
    found = backend.contract(wanted.symbol) if wanted.symbol else None
    if found is None and wanted.con_id:
        found = backend.contract_by_con_id(wanted.con_id)
    return found


async def contract_details(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    wanted = parse.contract(fields)
    contract = resolve_contract(session, wanted)
    if contract is None or wanted.sec_type not in ("", "STK") or wanted.currency not in ("", "USD"):
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    session.send(
        encoders.contract_details(
            req_id,
            contract,
            session.version,
            size_increment=contract.size_increment,
            # One rule per valid exchange (SMART, the primary), as IB lists them.
            market_rule_ids=f"{MARKET_RULE_ID},{MARKET_RULE_ID}",
        )
    )
    session.send(encoders.contract_details_end(req_id))


async def market_data(session: Session, fields: Fields) -> None:
    """reqMktData: the quote now, then on every tick (or once, for a snapshot).

    Live data, or with `delayed_data` (no live subscription) IB's answers: for a client
    that asked for delayed data (reqMarketDataType 3 or 4) the notice 10167 and delayed
    ticks, for one that did not the error 354. More than IB's 100 market data lines at
    once get error 101. The generic ticks 233 (RTVolume) and 236 (shortable) are served;
    others are taken and send nothing (as IB does for ticks a contract does not have).
    """
    fields.skip(1)  # version
    req_id = fields.int()
    wanted = parse.contract(fields)
    if fields.bool():  # a delta-neutral contract follows
        fields.skip(3)
    generic = frozenset(tick.strip() for tick in fields.str().split(",") if tick.strip())
    snapshot = fields.bool()
    if fields.remaining and fields.bool():
        snapshot = True  # a regulatory snapshot is a snapshot (IB charges it; free here)
    backend = session.backend
    contract = resolve_contract(session, wanted)
    if contract is None:
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    lines = session.market_data
    if not snapshot and req_id not in lines and len(lines) >= MAX_MARKET_DATA_LINES:
        session.error(
            req_id,
            MAX_TICKERS,
            f"Max number of tickers has been reached (max {MAX_MARKET_DATA_LINES})",
        )
        return
    data_type = _data_type(session, contract.symbol)
    if data_type is None:
        session.error(
            req_id,
            NO_MARKET_DATA_SUBSCRIPTION,
            "Requested market data is not subscribed. Delayed market data is available."
            f"{contract.symbol} NASDAQ.NMS/TOP/ALL",
        )
        return
    session.send(encoders.tick_req_params(req_id, contract.min_tick, "9c0001", 3))
    if data_type != 1 or session.market_data_type != 1:
        session.send(encoders.market_data_type(req_id, data_type))
    if data_type in (3, 4):
        session.error(
            req_id,
            DELAYED_DATA_SHOWN,
            "Requested market data is not subscribed. Displaying delayed market data.",
        )
    session.generic_ticks[req_id] = generic
    session.send_quote(req_id, backend.quote(contract.symbol))
    if snapshot:
        session.generic_ticks.pop(req_id, None)
        session.send(encoders.tick_snapshot_end(req_id))
    else:
        session.market_data[req_id] = contract.symbol


def _data_type(session: Session, symbol: str) -> int | None:
    """The market data type a client gets (1 live, 2 frozen, 3 delayed, 4 delayed frozen);
    None when it gets none (no live subscription and delayed data not asked for)."""
    asked = session.market_data_type
    backend = session.backend
    if backend.delayed_data:
        return asked if asked in (3, 4) else None
    # Live data is there: IB sends it whatever was asked, frozen only while closed.
    closed = not backend.calendar.is_extended_hours(backend.quote(symbol).ts)
    return 2 if asked in (2, 4) and closed else 1


async def market_data_type(session: Session, fields: Fields) -> None:
    """reqMarketDataType: the type later reqMktData get (marketDataType tells each)."""
    fields.skip(1)  # version
    data_type = fields.int()
    if data_type not in (1, 2, 3, 4):
        session.error(-1, VALIDATION_ERROR, f"Invalid market data type {data_type}")
        return
    session.market_data_type = data_type


async def cancel_market_data(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    session.market_data.pop(req_id, None)
    session.generic_ticks.pop(req_id, None)


async def historical_data(session: Session, fields: Fields) -> None:
    """reqHistoricalData: bars of TRADES, MIDPOINT or ADJUSTED_LAST (the same: no splits),
    the regular session only with useRTH, kept up to date with keepUpToDate; SCHEDULE gives
    the trading sessions. Other whatToShow values and bar sizes get IB's error 162."""
    req_id = fields.int()
    wanted = parse.contract(fields)
    fields.skip(1)  # includeExpired
    end_text = fields.str()
    bar_size = fields.str()
    duration = fields.str()
    use_rth = fields.bool()
    what = fields.str().strip().upper() or "TRADES"
    format_date = fields.int(default=1)
    keep_up_to_date = fields.bool() if fields.remaining else False
    backend = session.backend
    contract = resolve_contract(session, wanted)
    if contract is None:
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    size = _BAR_SIZES.get(bar_size.strip())
    seconds = _duration_seconds(duration)
    try:
        end = parse.parse_time(end_text)
    except ValueError:
        size = None
    if size is None or seconds is None or what not in _WHAT_TO_SHOW:
        why = f"bar size {bar_size!r}, duration {duration!r}, end {end_text!r}, {what}"
        _historical_error(session, req_id, f"invalid request ({why})")
        return
    if keep_up_to_date and end is not None:
        # IB: an end time cannot be given with keepUpToDate.
        _historical_error(session, req_id, "End date not supported with live updates")
        return
    if what == "SCHEDULE":
        _send_schedule(session, req_id, seconds, end)
        return
    interval, bar_seconds = size
    limit = max(1, min(MAX_BARS, seconds // bar_seconds))
    if use_rth and interval is BarInterval.H1:
        # IB's regular-hours hourly bars start at the open (09:30, then 10:00, ...): made
        # here from the session's minute bars, since the hour buckets hold pre-market too.
        minutes = await backend.bars(
            contract.symbol, BarInterval.M1, limit=min(MAX_BARS, limit * 60), end=end or None
        )
        bars = _regular_hours(minutes, backend.calendar)[-limit:]
    else:
        bars = await backend.bars(contract.symbol, interval, limit=limit, end=end or None)
        if use_rth and interval is not BarInterval.D1:
            bars = [bar for bar in bars if backend.calendar.is_regular_hours(bar.start)]
    daily = interval is BarInterval.D1

    def to_ib_bar(bar: Bar) -> IbBar:
        return IbBar(
            date=_bar_date(bar.start, daily=daily, epoch=format_date == 2),
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume if what != "MIDPOINT" else Decimal(-1),
            wap=bar.close,
            count=1,
        )

    first = bars[0].start if bars else backend.now()
    last = end or backend.now()
    session.send(
        encoders.historical_data(
            req_id,
            [to_ib_bar(bar) for bar in bars],
            _ib_stamp(first),
            _ib_stamp(last),
            session.version,
        )
    )
    if keep_up_to_date:
        session.streams[req_id] = BarUpdates(req_id, contract.symbol, interval, to_ib_bar)


def _regular_hours(minutes: list[Bar], calendar: SessionCalendar) -> list[Bar]:
    """Hourly bars of the regular session's minutes, each starting at the later of its
    hour and the session's open (IB's useRTH hours: 09:30-10:00, 10:00-11:00, ...)."""
    hours: list[Bar] = []
    for minute in minutes:
        if not calendar.is_regular_hours(minute.start):
            continue
        hour = minute.start.replace(minute=0, second=0, microsecond=0)
        session = calendar.regular_hours_of(minute.start.astimezone(calendar.zone).date())
        start = max(hour, session[0]) if session is not None else hour
        last = hours[-1] if hours else None
        if last is not None and last.start == start:
            hours[-1] = replace(
                last,
                high=max(last.high, minute.high),
                low=min(last.low, minute.low),
                close=minute.close,
                volume=last.volume + minute.volume,
            )
        else:
            hours.append(replace(minute, start=start))
    return hours


def _historical_error(session: Session, req_id: int, why: str) -> None:
    session.error(
        req_id, HISTORICAL_DATA_ERROR, f"Historical Market Data Service error message:{why}"
    )


def _send_schedule(session: Session, req_id: int, seconds: int, end: datetime | None) -> None:
    """The trading sessions of the `seconds` before `end` (IB's historicalSchedule)."""
    calendar = session.backend.calendar
    last = (end or session.backend.now()).astimezone(calendar.zone).date()
    first = last - timedelta(days=max(1, seconds // 86400) - 1)
    zone = str(calendar.zone)

    def local(at: datetime) -> str:
        return at.astimezone(calendar.zone).strftime("%Y%m%d-%H:%M:%S")

    sessions = [
        (local(day.open), local(day.close), day.date.strftime("%Y%m%d"))
        for day in calendar.sessions(first, last)
    ]
    start_text = sessions[0][0] if sessions else local(session.backend.now())
    end_text = sessions[-1][1] if sessions else start_text
    session.send(encoders_market.historical_schedule(req_id, start_text, end_text, zone, sessions))


async def cancel_historical_data(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    session.streams.pop(fields.int(), None)


async def head_timestamp(session: Session, fields: Fields) -> None:
    """reqHeadTimeStamp: when the oldest bar gateway-sim can give starts."""
    req_id = fields.int()
    wanted = parse.contract(fields)
    fields.skip(3)  # includeExpired, useRTH, whatToShow
    format_date = fields.int(default=1)
    contract = resolve_contract(session, wanted)
    if contract is None:
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    first = session.backend.first_bar_time(contract.symbol)
    stamp = str(int(first.timestamp())) if format_date == 2 else _ib_stamp(first)
    session.send(encoders_market.head_timestamp(req_id, stamp))


async def histogram_data(session: Session, fields: Fields) -> None:
    """reqHistogramData: how many minutes closed at each price over the period."""
    req_id = fields.int()
    wanted = parse.contract(fields)
    fields.skip(1)  # includeExpired
    use_rth = fields.bool()
    period = fields.str()
    contract = resolve_contract(session, wanted)
    if contract is None:
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    amount, _, unit = period.strip().partition(" ")
    days = (
        int(amount) * {"day": 1, "days": 1, "week": 7, "weeks": 7}.get(unit.lower(), 0)
        if (amount.isdigit())
        else 0
    )
    if days <= 0:
        _historical_error(session, req_id, f"invalid period {period!r}")
        return
    bars = await session.backend.bars(
        contract.symbol, BarInterval.M1, limit=min(MAX_BARS, days * 960), end=None
    )
    if use_rth:
        bars = [bar for bar in bars if session.backend.calendar.is_regular_hours(bar.start)]
    counts: dict[Decimal, int] = {}
    for bar in bars:
        counts[bar.close] = counts.get(bar.close, 0) + 1
    session.send(encoders_market.histogram_data(req_id, sorted(counts.items())))


MAX_HISTORICAL_TICKS = 1000  # IB's limit per request


async def historical_ticks(session: Session, fields: Fields) -> None:
    """reqHistoricalTicks: the market's seconds as ticks (TRADES, BID_ASK or MIDPOINT)."""
    req_id = fields.int()
    wanted = parse.contract(fields)
    fields.skip(1)  # includeExpired
    start_text, end_text = fields.str(), fields.str()
    count = fields.int()
    what = fields.str().strip().upper()
    use_rth = fields.bool()
    contract = resolve_contract(session, wanted)
    if contract is None:
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    try:
        start, end = parse.parse_time(start_text), parse.parse_time(end_text)
    except ValueError:
        start = end = None
        count = 0
    if not 0 < count <= MAX_HISTORICAL_TICKS or what not in ("TRADES", "BID_ASK", "MIDPOINT"):
        why = f"start {start_text!r}, end {end_text!r}, {count} ticks of {what}: a start or "
        why += f"an end time, 1-{MAX_HISTORICAL_TICKS} ticks, TRADES, BID_ASK or MIDPOINT"
        _historical_error(session, req_id, why)
        return
    if start is None and end is None:
        end = session.backend.now()  # neither given: the ticks up to now
    backend = session.backend
    if start is not None:
        # The first `count` seconds from the start (up to the end, if one is given too).
        until = end or start + timedelta(days=4)
        quotes = backend.seconds(contract.symbol, start, until, count, from_start=True)
    else:
        assert end is not None
        quotes = backend.seconds(contract.symbol, end - timedelta(days=4), end, count)
    if use_rth:
        quotes = [q for q in quotes if backend.calendar.is_regular_hours(q.ts)]
    if what == "TRADES":
        trades = [(int(q.ts.timestamp()), q.last, q.volume) for q in quotes]
        message = encoders_market.historical_ticks_last(req_id, trades, "ISLAND")
    elif what == "BID_ASK":
        rows = [(int(q.ts.timestamp()), q.bid, q.ask, q.bid_size, q.ask_size) for q in quotes]
        message = encoders_market.historical_ticks_bid_ask(req_id, rows)
    else:
        mids = [(int(q.ts.timestamp()), (q.bid + q.ask) / 2) for q in quotes]
        message = encoders_market.historical_ticks_mid(req_id, mids)
    session.send(message)


def _duration_seconds(text: str) -> int | None:
    amount, _, unit = text.strip().partition(" ")
    if not amount.isdigit() or unit.upper() not in _DURATION_UNITS:
        return None
    return int(amount) * _DURATION_UNITS[unit.upper()]


def _bar_date(start: datetime, *, daily: bool, epoch: bool) -> str:
    if daily:
        return start.astimezone(UTC).strftime("%Y%m%d")
    if epoch:
        return str(int(start.timestamp()))
    return _ib_stamp(start)


def _ib_stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")
