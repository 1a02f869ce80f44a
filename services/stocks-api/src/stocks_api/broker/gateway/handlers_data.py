"""The request handlers of contracts and market data: what gateway-sim answers a client's
reqContractDetails, reqMktData, cancelMktData and reqHistoricalData with.

Each handler parses its request (`requests.py`), asks the backend (`backend.py`) and
answers in IB's messages (`encoders.py`); `handlers.py` maps message ids to them.
Streaming quotes are sent by the gateway on its ticks to the subscriptions kept here in
`Session.market_data`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stocks_api.broker.gateway import encoders
from stocks_api.broker.gateway import requests as parse
from stocks_api.broker.gateway.codes import (
    HISTORICAL_DATA_ERROR,
    NO_SECURITY_DEFINITION,
    NO_SECURITY_DEFINITION_TEXT,
)
from stocks_api.broker.gateway.model import IbBar
from stocks_api.broker.gateway.session import Session
from stocks_api.broker.gateway.wire import Fields
from stocks_api.broker.protocol import BarInterval

# reqHistoricalData's bar sizes and duration units (IB's notation).
_BAR_SIZES = {
    "1 min": (BarInterval.M1, 60),
    "5 mins": (BarInterval.M5, 300),
    "1 hour": (BarInterval.H1, 3600),
    "1 day": (BarInterval.D1, 86400),
}
_DURATION_UNITS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}
MAX_BARS = 5000


async def contract_details(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    wanted = parse.contract(fields)
    backend = session.backend
    contract = backend.contract(wanted.symbol) if wanted.symbol else None
    if contract is None and wanted.con_id:
        contract = backend.contract_by_con_id(wanted.con_id)
    if contract is None or wanted.sec_type not in ("", "STK") or wanted.currency not in ("", "USD"):
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    session.send(
        encoders.contract_details(
            req_id, contract, session.version, size_increment=contract.size_increment
        )
    )
    session.send(encoders.contract_details_end(req_id))


async def market_data(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    req_id = fields.int()
    wanted = parse.contract(fields)
    if fields.bool():  # a delta-neutral contract follows
        fields.skip(3)
    fields.skip(1)  # genericTickList
    snapshot = fields.bool()
    contract = session.backend.contract(wanted.symbol)
    if contract is None:
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    session.send_quote(req_id, session.backend.quote(contract.symbol))
    if snapshot:
        session.send(encoders.tick_snapshot_end(req_id))
    else:
        session.market_data[req_id] = contract.symbol


async def cancel_market_data(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    session.market_data.pop(fields.int(), None)


async def historical_data(session: Session, fields: Fields) -> None:
    req_id = fields.int()
    wanted = parse.contract(fields)
    fields.skip(1)  # includeExpired
    end_text = fields.str()
    bar_size = fields.str()
    duration = fields.str()
    fields.skip(2)  # useRTH, whatToShow
    format_date = fields.int(default=1)
    contract = session.backend.contract(wanted.symbol)
    if contract is None:
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
        return
    size = _BAR_SIZES.get(bar_size.strip())
    seconds = _duration_seconds(duration)
    try:
        end = parse.parse_time(end_text)
    except ValueError:
        size = None
    if size is None or seconds is None:
        why = f"bar size {bar_size!r}, duration {duration!r}, end {end_text!r}"
        session.error(
            req_id,
            HISTORICAL_DATA_ERROR,
            f"Historical Market Data Service error message:invalid request ({why})",
        )
        return
    interval, bar_seconds = size
    limit = max(1, min(MAX_BARS, seconds // bar_seconds))
    bars = await session.backend.bars(contract.symbol, interval, limit=limit, end=end or None)
    daily = interval is BarInterval.D1
    ib_bars = [
        IbBar(
            date=_bar_date(bar.start, daily=daily, epoch=format_date == 2),
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
            wap=bar.close,
            count=1,
        )
        for bar in bars
    ]
    first = bars[0].start if bars else datetime.now(UTC)
    last = end or datetime.now(UTC)
    session.send(
        encoders.historical_data(
            req_id, ib_bars, _ib_stamp(first), _ib_stamp(last), session.version
        )
    )


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
