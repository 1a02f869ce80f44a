"""The snapshot recorder: account and position history, and the portfolio gauges.

A background task of the lifespan. Every `refresh_seconds` it values the portfolio and
updates `active_positions`, `pnl_unrealized`, `pnl_realized`, `account_equity` (the
equity curve, the figure the account snapshots record) and `position_market_value` per
symbol (exposure; a position closed since drops its series); every snapshot interval
it also persists account and position snapshots, and after fills (the consumer notifies
it) an account snapshot, at most one a second. Position snapshots per fill are written
by the consumer itself, in the fill's own transaction.

Each pass also publishes what it valued, after its commit: `account.updated` for every
account, as the same JSON as the REST resource. Positions are published by the consumer
when a fill moves them and by the live position marks at each new quote
(`portfolio.live_marks`), so a position's price is the watchlist's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.broker.protocol import BrokerClient
from stocks_api.core import metrics
from stocks_api.core.calendar import SessionCalendar
from stocks_api.core.database import utcnow
from stocks_api.events.bus import EventBus
from stocks_api.portfolio import accounts as account_service
from stocks_api.portfolio.accounts import AccountState
from stocks_api.portfolio.day_start import day_start_of

log = structlog.get_logger(__name__)


class SnapshotRecorder:
    """Records snapshots on an interval and after fills; see the module docstring."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        broker: BrokerClient,
        bus: EventBus,
        calendar: SessionCalendar,
        interval: float,
        timeout: float,
        refresh_seconds: float = 5.0,
        fill_spacing_seconds: float = 1.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._broker = broker
        self._bus = bus
        self._calendar = calendar
        self._interval = interval
        self._timeout = timeout
        self._refresh = min(refresh_seconds, interval)
        self._fill_spacing = fill_spacing_seconds
        self._fills = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[list[AccountState]], Awaitable[None]]] = []
        # (account, symbol) of the position_market_value series set by the last pass.
        self._exposures: set[tuple[str, str]] = set()

    def on_valuation(self, listener: Callable[[list[AccountState]], Awaitable[None]]) -> None:
        """Await `listener` with the accounts valued by each pass (the risk engine's loss watch)."""
        self._listeners.append(listener)

    def notify_fills(self, count: int) -> None:
        """Note that `count` fills were booked (called by the consumer after its commit)."""
        if count:
            self._fills.set()

    def start(self) -> None:
        """Start the background task; the first pass snapshots at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="snapshot-recorder")

    async def stop(self) -> None:
        """Stop the background task."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_interval = loop.time()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._fills.wait(), self._refresh)
            fills, due = self._fills.is_set(), loop.time() >= next_interval
            self._fills.clear()
            reason = "interval" if due else "fill" if fills else None
            try:
                await self.record(reason)
            except Exception:  # history must not stop because one pass failed
                log.exception("snapshot_failed", reason=reason)
            if due:
                next_interval = loop.time() + self._interval
            if fills:
                # Fills arriving meanwhile share the next snapshot: a busy market writes one
                # account snapshot a second, not one per order.
                await asyncio.sleep(self._fill_spacing)

    async def record(self, reason: str | None) -> None:
        """Value the portfolio, update the gauges, and persist snapshots when `reason` is set."""
        async with self._sessionmaker() as session:
            if reason is None:
                states = [
                    await account_service.value_account(
                        session=session, broker=self._broker, account=account, timeout=self._timeout
                    )
                    for account in await account_service.all_accounts(session)
                ]
            else:
                states = await account_service.record_snapshots(
                    session=session,
                    broker=self._broker,
                    reason=reason,
                    with_positions=reason == "interval",
                    timeout=self._timeout,
                )
            session_start = self._calendar.last_close(utcnow())
            metrics.ACTIVE_POSITIONS.set(sum(len(s.positions) for s in states))
            for state in states:
                account_id = state.account.account_id
                day_start = await day_start_of(session, state.account, session_start)
                realized = state.account.realized_pnl - day_start.realized_pnl
                metrics.PNL_UNREALIZED.labels(account=account_id).set(float(state.unrealized_pnl))
                metrics.PNL_REALIZED.labels(account=account_id).set(float(realized))
                metrics.ACCOUNT_EQUITY.labels(account=account_id).set(
                    float(state.figures.net_liquidation)
                )
            self._set_exposures(states)
            await session.commit()
        await self._publish(states)
        for listener in self._listeners:
            try:
                await listener(states)
            except Exception:  # one listener's failure must not stop the history
                log.exception("valuation_listener_failed")

    def _set_exposures(self, states: list[AccountState]) -> None:
        exposures: set[tuple[str, str]] = set()
        for position in (p for state in states for p in state.positions):
            if position.market_value is None or not position.qty:
                continue  # unpriced: no figure is better than a guessed one
            key = (position.account_id, position.symbol)
            exposures.add(key)
            metrics.POSITION_MARKET_VALUE.labels(*key).set(float(position.market_value))
        for account_id, symbol in self._exposures - exposures:
            with contextlib.suppress(KeyError):
                metrics.POSITION_MARKET_VALUE.remove(account_id, symbol)
        self._exposures = exposures

    async def _publish(self, states: list[AccountState]) -> None:
        if not self._bus.has_subscribers():
            return
        for state in states:
            summary = account_service.summary_of(state)
            await self._bus.publish("account.updated", summary.model_dump(mode="json"))
