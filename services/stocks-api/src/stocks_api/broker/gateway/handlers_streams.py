"""The request handlers of streaming subscriptions other than quotes: tick-by-tick data,
market depth, real-time bars, P&L and the P&L of one position (`streams.py` updates them),
and their cancels. A stream starts with what is true now (depth's inserts, the first P&L)
and then sends what changes.
"""

from __future__ import annotations

from datetime import timedelta

from stocks_api.broker.gateway import encoders_market as market
from stocks_api.broker.gateway import requests as parse
from stocks_api.broker.gateway.codes import (
    NO_SECURITY_DEFINITION,
    NO_SECURITY_DEFINITION_TEXT,
    VALIDATION_ERROR,
)
from stocks_api.broker.gateway.handlers_data import resolve_contract
from stocks_api.broker.gateway.model import IbContract
from stocks_api.broker.gateway.session import Session
from stocks_api.broker.gateway.streams import (
    MAX_DEPTH_ROWS,
    REAL_TIME_BAR_SECONDS,
    Depth,
    Pnl,
    PnlSingle,
    RealTimeBars,
    TickByTick,
)
from stocks_api.broker.gateway.wire import Fields

TICK_BY_TICK_TYPES = ("Last", "AllLast", "BidAsk", "MidPoint")
REAL_TIME_BAR_DATA = ("TRADES", "MIDPOINT", "BID", "ASK")


def _contract(session: Session, req_id: int, wanted: parse.ContractRequest) -> IbContract | None:
    contract = resolve_contract(session, wanted)
    if contract is None:
        session.error(req_id, NO_SECURITY_DEFINITION, NO_SECURITY_DEFINITION_TEXT)
    return contract


async def tick_by_tick(session: Session, fields: Fields) -> None:
    """reqTickByTickData: Last, AllLast, BidAsk or MidPoint, after `numberOfTicks` of the
    past."""
    req_id = fields.int()
    wanted = parse.contract(fields)
    kind = fields.str().strip()
    count = fields.int()
    ignore_size = fields.bool()
    contract = _contract(session, req_id, wanted)
    if contract is None:
        return
    match = {name.lower(): name for name in TICK_BY_TICK_TYPES}.get(kind.lower())
    if match is None:
        session.error(
            req_id,
            VALIDATION_ERROR,
            f"Invalid tick-by-tick type {kind!r}: one of " + ", ".join(TICK_BY_TICK_TYPES),
        )
        return
    if count > 0:
        # The past first, as the same tick-by-tick messages (both libraries put them in the
        # request's stream, oldest first).
        now = session.backend.now()
        past = session.backend.seconds(contract.symbol, now - timedelta(days=4), now, count)
        for q in past:
            epoch = int(q.ts.timestamp())
            if match in ("Last", "AllLast"):
                last_kind = 1 if match == "Last" else 2
                message = market.tick_by_tick_last(
                    req_id, last_kind, epoch, q.last, q.volume, "ISLAND"
                )
            elif match == "BidAsk":
                message = market.tick_by_tick_bid_ask(
                    req_id, epoch, q.bid, q.ask, q.bid_size, q.ask_size
                )
            else:
                message = market.tick_by_tick_mid_point(req_id, epoch, (q.bid + q.ask) / 2)
            session.send(message)
    stream = TickByTick(req_id, contract.symbol, match, ignore_size)
    session.streams[req_id] = stream
    await stream.tick(session)


async def market_depth(session: Session, fields: Fields) -> None:
    """reqMktDepth: up to 10 levels each side, inserted now and updated on each tick."""
    fields.skip(1)  # version
    req_id = fields.int()
    wanted = parse.contract(fields)
    rows = fields.int()
    smart = fields.bool()
    contract = _contract(session, req_id, wanted)
    if contract is None:
        return
    lot = session.backend.quote(contract.symbol).bid_size or contract.size_increment
    stream = Depth(
        req_id,
        contract.symbol,
        max(1, min(rows or MAX_DEPTH_ROWS, MAX_DEPTH_ROWS)),
        contract.min_tick,
        min(lot, 100 * contract.size_increment),
        smart,
    )
    session.streams[req_id] = stream
    await stream.tick(session)


async def real_time_bars(session: Session, fields: Fields) -> None:
    """reqRealTimeBars: 5-second bars (IB serves no other size) of TRADES, MIDPOINT, BID
    or ASK."""
    fields.skip(1)  # version
    req_id = fields.int()
    wanted = parse.contract(fields)
    bar_size = fields.int()
    what = fields.str().strip().upper()
    use_rth = fields.bool()
    contract = _contract(session, req_id, wanted)
    if contract is None:
        return
    if bar_size != REAL_TIME_BAR_SECONDS or what not in REAL_TIME_BAR_DATA:
        session.error(
            req_id,
            VALIDATION_ERROR,
            f"Error validating request: real-time bars are {REAL_TIME_BAR_SECONDS} seconds of "
            f"{', '.join(REAL_TIME_BAR_DATA)}; got {bar_size} seconds of {what}",
        )
        return
    stream = RealTimeBars(req_id, contract.symbol, what, use_rth)
    session.streams[req_id] = stream
    await stream.tick(session)


async def pnl(session: Session, fields: Fields) -> None:
    """reqPnL: the account's daily, unrealized and realized P&L, now and each second."""
    req_id = fields.int()
    account = fields.str().strip()
    if account and account != session.backend.account:
        session.error(req_id, VALIDATION_ERROR, f"Invalid account {account!r} for PnL request")
        return
    stream = Pnl(req_id)
    session.streams[req_id] = stream
    await stream.tick(session)


async def pnl_single(session: Session, fields: Fields) -> None:
    """reqPnLSingle: one position's P&L, now and each second (all zero while none is held)."""
    req_id = fields.int()
    account = fields.str().strip()
    fields.skip(1)  # modelCode
    con_id = fields.int()
    contract = session.backend.contract_by_con_id(con_id)
    if contract is None or (account and account != session.backend.account):
        session.error(
            req_id,
            VALIDATION_ERROR,
            f"Invalid account or conId for PnL single: {account!r}, {con_id}",
        )
        return
    stream = PnlSingle(req_id, contract.symbol)
    session.streams[req_id] = stream
    await stream.tick(session)


async def cancel_stream(session: Session, fields: Fields) -> None:
    """The cancel of a stream whose request id follows the message id (no version field)."""
    session.streams.pop(fields.int(), None)


async def cancel_stream_versioned(session: Session, fields: Fields) -> None:
    """The cancel of a stream whose request id follows a version field."""
    fields.skip(1)  # version
    session.streams.pop(fields.int(), None)
