"""The risk service: assessing orders against the book, trading states, limits, the breaker.

The order service calls `assess` inside `RiskEngine.admission`, before an order's
write-ahead row is committed; that is the one place every order and modification
passes. State changes (halt, resume, the circuit breaker) and limit changes are audited
in `risk_event` and published on the bus after their commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.protocol import BrokerClient, Quote
from stocks_api.core import metrics
from stocks_api.core.database import utcnow
from stocks_api.core.errors import UnprocessableError
from stocks_api.core.pagination import paginate
from stocks_api.marketdata import service as marketdata_service
from stocks_api.portfolio.accounts import AccountState
from stocks_api.portfolio.day_start import day_start_of
from stocks_api.portfolio.models import Account, Position
from stocks_api.risk.book import OpenOrder, OpenQty, sum_open
from stocks_api.risk.checks import (
    ZERO,
    Exposure,
    Failure,
    loss_breached,
)
from stocks_api.risk.engine import RiskEngine, lock_state
from stocks_api.risk.models import RiskEvent, RiskState
from stocks_api.risk.schemas import (
    LIMIT_NAMES,
    LimitsResetRequest,
    ResumeRequest,
    RiskEventFilters,
    RiskLimits,
    RiskLimitsUpdate,
    RiskStateRead,
    RiskStatus,
    RiskUsage,
    TradingState,
)

log = structlog.get_logger(__name__)

BREAKER = "circuit_breaker"
RATIO_PLACES = Decimal("0.0001")


# -- the book --------------------------------------------------------------------------


def sum_open_orders(rows: Iterable[Any]) -> dict[str, OpenQty]:
    """Sum what open order rows (`symbol, side, qty, filled_qty, oca_group`) may still fill,
    per symbol and side (`book.sum_open`: an OCA group counts once)."""
    by_symbol: dict[str, list[OpenOrder]] = {}
    for row in rows:
        order = OpenOrder.of(row.symbol, row.side, row.qty, row.filled_qty, row.oca_group)
        by_symbol.setdefault(order.symbol, []).append(order)
    return {symbol: sum_open(orders) for symbol, orders in by_symbol.items()}


@dataclass(frozen=True, slots=True)
class AccountExposure:
    """The account as the checks see it: holdings with open orders, net liquidation, P&L."""

    holdings: dict[str, Exposure]
    net_liquidation: Decimal | None
    daily_pnl: Decimal | None
    session_start: datetime
    unpriced: list[str]


async def prefetch_marks(
    *,
    engine: RiskEngine,
    broker: BrokerClient,
    quote: Quote | None,
    timeout: float,
    account_id: str | None,
) -> dict[str, Decimal | None]:
    """Last prices of the symbols in the book, and of the order's symbol.

    Fetched before the admission lock, so no broker call waits inside it; a symbol that
    entered the book since is priced under the lock (`expose`).
    """
    book = engine.book
    wanted = (set(book.positions(account_id)) | book.open_symbols()) - (
        {quote.symbol} if quote is not None else set()
    )
    marks = await marketdata_service.marks(
        broker=broker, symbols=sorted(wanted), timeout=timeout, strict=True
    )
    if quote is not None:
        marks[quote.symbol] = quote.last if quote.last > 0 else None
    return marks


async def load_book(
    *,
    session: AsyncSession,
    engine: RiskEngine,
    broker: BrokerClient,
    account_id: str | None,
    timeout: float,
) -> AccountExposure:
    """Read open orders, positions and cash in one statement, and mark them at the broker.

    One statement is one snapshot: a fill that moves quantity from an open order to the
    position is seen entirely before or entirely after. What `GET /risk` shows, on any
    instance (admission reads the owner's book in memory instead).
    """
    orders = engine.open_orders().add_columns(literal_column("'order'").label("kind"))
    # Positions and cash fill the open-order columns they share (symbol, qty); `kind` tells.
    book_query: Any = orders
    if account_id is not None:
        held: Any = select(
            Position.symbol,
            null(),
            Position.qty,
            null(),
            null(),
            literal_column("'position'"),
        ).where(Position.account_id == account_id, Position.qty != 0)
        cash: Any = select(
            null(), null(), Account.cash, null(), null(), literal_column("'cash'")
        ).where(Account.account_id == account_id)
        book_query = union_all(orders, held, cash)
    rows = list(await session.execute(book_query))
    open_qty = sum_open_orders(row for row in rows if row.kind == "order")
    positions = {row.symbol: row.qty for row in rows if row.kind == "position"}
    cash_rows = [row.qty for row in rows if row.kind == "cash"]
    return await expose(
        engine=engine,
        broker=broker,
        account_id=account_id,
        open_qty=lambda symbol: open_qty.get(symbol, OpenQty()),
        open_symbols=frozenset(open_qty),
        positions=positions,
        cash=cash_rows[0] if cash_rows else None,
        marks={},
        timeout=timeout,
        strict=False,
    )


async def expose(
    *,
    engine: RiskEngine,
    broker: BrokerClient,
    account_id: str | None,
    open_qty: Callable[[str], OpenQty],
    open_symbols: frozenset[str],
    positions: Mapping[str, Decimal],
    cash: Decimal | None,
    marks: dict[str, Decimal | None],
    timeout: float,
    strict: bool,
) -> AccountExposure:
    """Mark holdings and open orders at `marks`, and value the account.

    Symbols missing from `marks` are priced at the broker; `strict` (an order's checks)
    raises when the broker cannot be reached instead of leaving them unpriced.
    """
    symbols = set(positions) | open_symbols
    marks = dict(marks)
    missing = sorted(symbols - set(marks))
    if missing:
        marks |= await marketdata_service.marks(
            broker=broker, symbols=missing, timeout=timeout, strict=strict
        )
    symbols |= set(marks)  # the order's own symbol, for its price band
    holdings = {}
    for name in symbols:
        pending = open_qty(name)
        holdings[name] = Exposure(
            qty=positions.get(name, ZERO),
            open_buy=pending.buy,
            open_sell=pending.sell,
            mark=marks.get(name),
        )
    unpriced = sorted(name for name in positions if marks.get(name) is None)
    session_start = engine.calendar.last_close(utcnow())
    net_liquidation = daily_pnl = None
    if account_id is not None and cash is not None and not unpriced:
        net_liquidation = cash + sum(
            (qty * (marks[name] or ZERO) for name, qty in positions.items()), ZERO
        )
        start = engine.day_start(account_id, session_start)
        if start is None:
            async with engine.sessionmaker() as session:
                start_figure = await _day_start(session, engine, account_id, session_start)
        else:
            start_figure = start.net_liquidation
        daily_pnl = net_liquidation - start_figure
    return AccountExposure(holdings, net_liquidation, daily_pnl, session_start, unpriced)


async def _day_start(
    session: AsyncSession, engine: RiskEngine, account_id: str, session_start: datetime
) -> Decimal:
    start = engine.day_start(account_id, session_start)
    if start is None:
        account = await session.get(Account, account_id)
        if account is None:  # pragma: no cover - the caller has just read its cash
            return ZERO
        start = await day_start_of(session, account, session_start)
        engine.remember_day_start(account_id, session_start, start)
    return start.net_liquidation


# -- assessing -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assessment:
    """The verdict on one order: the failed checks (none: admitted) and what they saw."""

    failures: list[Failure]
    book: AccountExposure
    loss_breached: bool

    @property
    def details(self) -> list[dict[str, Any]]:
        return [failure.as_detail() for failure in self.failures]


async def trip_if_loss_breached(*, engine: RiskEngine, verdict: Assessment) -> None:
    """Halt (once per session) when an assessment found today's loss at the limit."""
    if verdict.loss_breached and verdict.book.daily_pnl is not None:
        await trip_on_loss(
            engine=engine,
            daily_pnl=verdict.book.daily_pnl,
            session_start=verdict.book.session_start,
        )


# -- trading states ------------------------------------------------------------------


async def ensure_state(engine: RiskEngine, *, announce: bool = True) -> RiskStateRead:
    """Create the state row on the first start; load the state and limits, set the gauges.

    Run at start, and again (`announce=False`) when this process takes the broker over:
    admission reads the state and limits from the engine, as the database holds them.
    """
    async with engine.sessionmaker() as session, session.begin():
        row = await lock_state(session)
        engine.limits_for(row)
        state = RiskStateRead.model_validate(row)
    engine.state = state.state
    if state.state is not TradingState.ACTIVE:
        log.warning("trading_not_active", state=state.state.value, reason=state.reason)
    if announce:
        await engine.announce(state)
    return state


async def change_state(
    *,
    engine: RiskEngine,
    target: TradingState,
    actor: str,
    reason: str | None,
    kind: str,
    payload: dict[str, Any] | None = None,
) -> RiskStateRead:
    """Move to `target`, audit it (who, why, from what) and announce it."""
    async with engine.exclusive(), engine.sessionmaker() as session, session.begin():
        row = await lock_state(session)
        state = _set_state(session, row, target, actor, reason, kind, payload or {})
    log.warning("trading_state_changed", state=target.value, actor=actor, reason=reason)
    await engine.announce(state)
    return state


def _set_state(
    session: AsyncSession,
    row: RiskState,
    target: TradingState,
    actor: str,
    reason: str | None,
    kind: str,
    payload: dict[str, Any],
) -> RiskStateRead:
    session.add(
        RiskEvent(
            kind=kind,
            from_state=row.state,
            to_state=target.value,
            actor=actor,
            reason=reason,
            payload=payload,
        )
    )
    row.state, row.reason, row.changed_by, row.changed_at = target.value, reason, actor, utcnow()
    return RiskStateRead.model_validate(row)


async def resume(*, engine: RiskEngine, request: ResumeRequest, actor: str) -> RiskStateRead:
    """Trade again, fully or reductions only; the breaker's rejection count starts over."""
    engine.rejection_streak = 0
    return await change_state(
        engine=engine,
        target=request.state,
        actor=actor,
        reason=request.reason or f"resumed to {request.state.value}",
        kind="resume",
    )


async def trip_on_loss(*, engine: RiskEngine, daily_pnl: Decimal, session_start: datetime) -> None:
    """Halt once per session when today's loss reaches the limit (the circuit breaker).

    After a deliberate resume the same session's breach does not halt again: the
    `daily_loss_limit` check still refuses every order that does not reduce a position.
    """
    limit = engine.limits.daily_loss_limit
    state: RiskStateRead | None = None
    async with engine.exclusive(), engine.sessionmaker() as session, session.begin():
        row = await lock_state(session)
        if row.loss_halt_session == session_start:
            return
        row.loss_halt_session = session_start
        if row.state != TradingState.HALTED.value:
            reason = f"daily loss {-daily_pnl} reached the limit {limit}"
            payload = {"trigger": "daily_loss", "daily_pnl": str(daily_pnl), "limit": str(limit)}
            state = _set_state(session, row, TradingState.HALTED, BREAKER, reason, "halt", payload)
    if state is not None:
        log.error("circuit_breaker_tripped", trigger="daily_loss", reason=state.reason)
        await engine.announce(state)


async def note_broker_verdicts(*, engine: RiskEngine, verdicts: Sequence[bool]) -> None:
    """Count broker answers (True: accepted); halt after too many rejections in a row."""
    for accepted in verdicts:
        engine.rejection_streak = 0 if accepted else engine.rejection_streak + 1
    limit = engine.limits.max_consecutive_rejections
    if limit is None or engine.rejection_streak < limit:
        return
    streak, engine.rejection_streak = engine.rejection_streak, 0
    state: RiskStateRead | None = None
    async with engine.exclusive(), engine.sessionmaker() as session, session.begin():
        row = await lock_state(session)
        if row.state != TradingState.HALTED.value:
            reason = f"{streak} consecutive broker rejections"
            payload = {"trigger": "broker_rejections", "consecutive": streak, "limit": limit}
            state = _set_state(session, row, TradingState.HALTED, BREAKER, reason, "halt", payload)
    if state is not None:
        log.error("circuit_breaker_tripped", trigger="broker_rejections", reason=state.reason)
        await engine.announce(state)


async def watch_daily_loss(
    *, engine: RiskEngine, account_id: str | None, states: Sequence[AccountState]
) -> None:
    """Check the trading account's P&L after each portfolio valuation (the background breaker)."""
    for state in states:
        if state.account.account_id != account_id or state.unpriced_symbols:
            continue
        session_start = engine.calendar.last_close(state.as_of)
        async with engine.sessionmaker() as session:
            start = await _day_start(session, engine, account_id, session_start)
        daily_pnl = state.figures.net_liquidation - start
        metrics.RISK_DAILY_PNL.set(float(daily_pnl))
        if loss_breached(engine.limits, daily_pnl):
            await trip_on_loss(engine=engine, daily_pnl=daily_pnl, session_start=session_start)


# -- limits ------------------------------------------------------------------------------


async def update_limits(*, engine: RiskEngine, update: RiskLimitsUpdate, actor: str) -> RiskLimits:
    """Change limits at run time: validate, persist, audit old and new values."""
    changes = update.changes()
    async with engine.exclusive(), engine.sessionmaker() as session, session.begin():
        row = await lock_state(session)
        old = engine.limits_for(row)
        overrides = dict(row.limits or {}) | changes
        try:
            new = RiskLimits.model_validate(engine.defaults.model_dump() | overrides)
        except ValidationError as exc:  # each field was checked; this is a combination
            raise UnprocessableError(
                "the limits are not valid together",
                details=[{"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()],
            ) from exc
        row.limits = overrides
        _audit_limits(session, "limits_changed", actor, update.reason, old, new, list(changes))
        limits = engine.limits_for(row)
    log.warning("risk_limits_changed", actor=actor, changed=sorted(changes))
    return limits


async def reset_limits(
    *, engine: RiskEngine, request: LimitsResetRequest, actor: str
) -> RiskLimits:
    """Drop run-time changes of some (or all) limits so their settings apply again."""
    names = request.limits or list(LIMIT_NAMES)
    async with engine.exclusive(), engine.sessionmaker() as session, session.begin():
        row = await lock_state(session)
        old = engine.limits_for(row)
        row.limits = {k: v for k, v in (row.limits or {}).items() if k not in names}
        new = engine.limits_for(row)
        _audit_limits(session, "limits_reset", actor, request.reason, old, new, names)
    log.warning("risk_limits_reset", actor=actor, limits=names)
    return new


def _audit_limits(
    session: AsyncSession,
    kind: str,
    actor: str,
    reason: str | None,
    old: RiskLimits,
    new: RiskLimits,
    names: list[str],
) -> None:
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    session.add(
        RiskEvent(
            kind=kind,
            from_state=None,
            to_state=None,
            actor=actor,
            reason=reason,
            payload={
                "old": {name: before[name] for name in names},
                "new": {name: after[name] for name in names},
            },
        )
    )


def limit_sources(row: RiskState) -> dict[str, str]:
    overridden = set(row.limits or {})
    return {name: "runtime" if name in overridden else "settings" for name in LIMIT_NAMES}


# -- reading -----------------------------------------------------------------------------


async def status(
    *,
    session: AsyncSession,
    engine: RiskEngine,
    broker: BrokerClient,
    account_id: str | None,
    timeout: float,
) -> RiskStatus:
    """Return the trading state, the limits in force, and where the account stands."""
    row = await session.get(RiskState, 1, populate_existing=True)
    if row is None:  # created at start-up; only a database emptied under a running app lacks it
        row = await lock_state(session)
        await session.commit()
    limits = engine.limits_for(row)
    book = await load_book(
        session=session, engine=engine, broker=broker, account_id=account_id, timeout=timeout
    )
    await session.commit()
    gross = sum((abs(h.qty * h.mark) for h in book.holdings.values() if h.mark is not None), ZERO)
    gross_open = sum((g for h in book.holdings.values() if (g := h.gross()) is not None), ZERO)
    net = book.net_liquidation
    positive = net is not None and net > 0
    usage = RiskUsage(
        account_id=account_id,
        session_start=book.session_start,
        daily_pnl=book.daily_pnl,
        daily_loss_limit_used=_loss_used(book.daily_pnl, limits.daily_loss_limit),
        net_liquidation=net,
        gross_exposure=None if book.unpriced else gross,
        gross_exposure_with_open_orders=None if book.unpriced else gross_open,
        leverage=(gross / net).quantize(RATIO_PLACES) if positive and net else None,
        orders_last_second=engine.pace.last_second(),
        orders_last_minute=engine.pace.last_minute(),
        consecutive_broker_rejections=engine.rejection_streak,
        unpriced_symbols=book.unpriced,
    )
    state = RiskStateRead.model_validate(row)
    return RiskStatus(
        **state.model_dump(),
        limits=limits,
        limit_sources=limit_sources(row),
        usage=usage,
    )


def _loss_used(daily_pnl: Decimal | None, limit: Decimal | None) -> Decimal | None:
    if daily_pnl is None or limit is None:
        return None
    return (max(-daily_pnl, ZERO) / limit).quantize(RATIO_PLACES)


async def list_events(
    *, session: AsyncSession, filters: RiskEventFilters
) -> tuple[list[RiskEvent], str | None]:
    """List the risk audit trail newest first; return a page and the next cursor."""
    return await paginate(session, select(RiskEvent), RiskEvent.id, filters.cursor, filters.limit)
