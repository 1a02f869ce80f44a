"""The risk engine's run-time part: one per process, kept on `app.state`.

It holds what admission reads, so admission reads no database: the trading state and
the limits in force (loaded at start and on takeover; only the process that owns the
broker connection changes them, and it changes them here after each commit), and the
book (`book.TradingBook`). It serialises admissions (an order is judged, and reserved in
the book, while no other order is), counts the order pace and consecutive broker
rejections, remembers each session's day-start figures, and announces state changes.
The gate is `gate.admit`, the rules are in `checks`, the database work in `service`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.core import metrics
from stocks_api.core.calendar import SessionCalendar
from stocks_api.events.bus import EventBus
from stocks_api.portfolio.day_start import DayStart
from stocks_api.risk.book import TradingBook
from stocks_api.risk.models import STATE_ROW_ID, RiskState
from stocks_api.risk.pacing import OrderPace
from stocks_api.risk.schemas import RiskLimits, RiskStateRead, TradingState

log = structlog.get_logger(__name__)


class OpenOrdersQuery(Protocol):
    """Builds the statement that selects the open orders the checks count against the book.

    Its columns are `symbol, side, qty, filled_qty, oca_group`, then `client_order_id` when
    `keyed` (loading the book). The order domain owns the order table and provides it
    (wired in `main`); the risk domain only reads its rows.
    """

    def __call__(self, *, keyed: bool = False) -> Select[*tuple[Any, ...]]: ...


class RiskEngine:
    """Run-time state of the risk engine; see the module docstring."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        bus: EventBus,
        defaults: RiskLimits,
        calendar: SessionCalendar,
        open_orders: OpenOrdersQuery,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.open_orders = open_orders
        self.calendar = calendar
        self.defaults = defaults
        self.pace = OrderPace()
        self.rejection_streak = 0
        self.book = TradingBook()
        # The trading state in force (set from the state row at start, then by `announce`).
        self.state = TradingState.ACTIVE
        self._bus = bus
        self._lock = asyncio.Lock()
        self._day_starts: dict[tuple[str, datetime], DayStart] = {}
        self._overrides_key = ""
        self._limits = defaults

    # -- serialisation ----------------------------------------------------------------

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the admission lock of this process (state changes take it too)."""
        async with self._lock:
            yield

    # -- limits -----------------------------------------------------------------------

    def limits_for(self, row: RiskState) -> RiskLimits:
        """The limits in force: settings, overridden by the run-time changes in `row`."""
        overrides: dict[str, Any] = row.limits or {}
        key = json.dumps(overrides, sort_keys=True)
        if key != self._overrides_key:
            try:
                self._limits = RiskLimits.model_validate(self.defaults.model_dump() | overrides)
            except ValueError:
                log.error("risk_limits_override_invalid", overrides=overrides)
                self._limits = self.defaults
            self._overrides_key = key
            limit = self._limits.daily_loss_limit
            metrics.RISK_DAILY_LOSS_LIMIT.set(float(limit) if limit is not None else 0)
        return self._limits

    @property
    def limits(self) -> RiskLimits:
        """The limits last seen in force (for background checks between admissions)."""
        return self._limits

    # -- day start ----------------------------------------------------------------------

    def day_start(self, account_id: str, session_start: datetime) -> DayStart | None:
        return self._day_starts.get((account_id, session_start))

    def remember_day_start(self, account_id: str, session_start: datetime, start: DayStart) -> None:
        # A session's start never changes once it has begun; keep only the current one.
        self._day_starts = {
            key: value for key, value in self._day_starts.items() if key[1] >= session_start
        }
        self._day_starts[(account_id, session_start)] = start

    # -- announcements ----------------------------------------------------------------

    async def announce(self, state: RiskStateRead) -> None:
        """Take a state change in (after its commit), publish it, update the state gauge."""
        self.state = state.state
        for candidate in TradingState:
            metrics.TRADING_STATE.labels(state=candidate.value).set(int(candidate is state.state))
        await self._bus.publish("risk.state", state.model_dump(mode="json"))


async def lock_state(session: AsyncSession) -> RiskState:
    """Read the state row (locking it on PostgreSQL); create it if it is missing."""
    query = (
        select(RiskState)
        .where(RiskState.id == STATE_ROW_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = (await session.scalars(query)).one_or_none()
    if row is None:
        row = RiskState(id=STATE_ROW_ID, state=TradingState.ACTIVE.value, limits={})
        session.add(row)
        await session.flush()
    return row
