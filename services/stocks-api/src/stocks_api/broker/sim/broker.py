"""SimBroker: the in-process simulated broker, a `BrokerClient` over the matching engine.

The engine is synchronous and deterministic; this adapter gives it the async broker
interface and a clock: a background task moves prices every `SIM_TICK_INTERVAL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import structlog

from stocks_api.broker.protocol import (
    AccountType,
    Bar,
    BarInterval,
    BrokerAccount,
    BrokerNotSentError,
    BrokerUnavailableError,
    ConnectionInfo,
    Contract,
    EventSink,
    LinkEvent,
    LinkState,
    OrderChange,
    OrderRequest,
    Quote,
)
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.broker.sim.settings import SimSettings
from stocks_api.core import metrics
from stocks_api.core.calendar import SessionCalendar

log = structlog.get_logger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SimBroker:
    """A simulated broker with a real matching engine, living inside the API process."""

    kind = "sim"

    def __init__(
        self,
        settings: SimSettings,
        *,
        calendar: SessionCalendar | None = None,
        tick: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Prepare a broker for `settings`; `calendar` sets the regular session (default 24/7).

        `clock` replaces the wall clock (tests move time across a session close with it).
        """
        self._settings = settings
        self._calendar = calendar
        self._clock = clock or _utc_now
        self._tick_enabled = tick
        self._engine: MatchingEngine | None = None
        self._connected_at: datetime | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def engine(self) -> MatchingEngine:
        """The matching engine (for tests and the gateway simulator)."""
        if self._engine is None:
            raise BrokerNotSentError("simulated broker is not connected")
        return self._engine

    def connection_info(self) -> ConnectionInfo:
        """The simulator runs in this process: no host or port."""
        return ConnectionInfo(
            kind=self.kind,
            host=None,
            port=None,
            server_version="sim",
            connected_at=self._connected_at,
            state=LinkState.CONNECTED if self.is_connected else LinkState.DISCONNECTED,
            state_since=self._connected_at,
        )

    @property
    def is_connected(self) -> bool:
        """Whether the engine is running."""
        return self._engine is not None

    async def connect(self, sink: EventSink) -> None:
        """Open a fresh simulated market that reports to `sink`."""
        # A fresh id prefix per start: a restarted engine never reuses an order or
        # execution id that is already stored.
        if self._settings.seed is None:  # resolved by the composition root (main.py)
            raise ValueError("the simulated broker needs a seed (SIM_SEED or the installation's)")
        self._engine = MatchingEngine(
            symbols=self._settings.symbol_specs(),
            seed=self._settings.seed,
            on_event=sink,
            id_prefix=f"SIM{time.time_ns() // 1_000_000:x}",
            volatility=self._settings.volatility,
            calendar=self._calendar,
            account_id=self._settings.account_id,
            bar_history_minutes=self._settings.bar_history_days * 1440,
            clock=self._clock,
        )
        self._connected_at = self._clock()
        metrics.BROKER_CONNECTED.set(1)
        sink(
            LinkEvent(
                LinkState.CONNECTED,
                self._connected_at,
                server_version="sim",
                account_id=self._settings.account_id,
            )
        )
        if self._tick_enabled:
            self._ticker = asyncio.create_task(self._tick_forever(), name="sim-broker-ticker")
        log.info("sim_broker_connected", symbols=self._engine.symbols())

    async def close(self) -> None:
        """Stop the market clock and drop the engine."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        self._engine = None
        metrics.BROKER_CONNECTED.set(0)

    async def _tick_forever(self) -> None:
        """Move prices (and expire DAY orders) every tick interval until closed."""
        while True:
            await asyncio.sleep(self._settings.tick_interval_seconds)
            try:
                self.engine.tick()
            except BrokerUnavailableError:
                return
            except Exception:  # a bad tick must not stop the market
                log.exception("sim_tick_failed")

    async def accounts(self) -> list[BrokerAccount]:
        """List the one configured account."""
        if not self.is_connected:
            raise BrokerUnavailableError("simulated broker is not connected")
        settings = self._settings
        account_type = AccountType(settings.account_type)
        return [BrokerAccount(settings.account_id, account_type, "USD", settings.starting_cash)]

    async def contract(self, symbol: str) -> Contract | None:
        """Look up a simulated symbol."""
        return self.engine.contract(symbol)

    async def place_order(self, order: OrderRequest) -> str:
        """Submit an order to the engine."""
        return self.engine.submit(order)

    async def place_bracket(
        self, parent: OrderRequest, children: Sequence[OrderRequest]
    ) -> list[str]:
        """Submit a bracket (parent first) to the engine."""
        return self.engine.submit_bracket(parent, children)

    async def modify_order(self, broker_order_id: str, change: OrderChange) -> None:
        """Modify a working order."""
        self.engine.modify(broker_order_id, change)

    async def cancel_order(self, broker_order_id: str) -> None:
        """Cancel a working order."""
        self.engine.cancel(broker_order_id)

    async def open_order_ids(self) -> set[str]:
        """List the client order ids of the working orders, held bracket children included."""
        return {order.request.client_order_id for order in self.engine.open_orders()}

    async def resync(self) -> None:
        """Nothing to replay: the engine runs in this process and loses no event."""
        self.engine.symbols()  # but, like a real broker, only while connected

    async def positions(self) -> dict[tuple[str, str], Decimal] | None:
        """None: the simulator keeps no books; its positions are those booked from its fills."""
        return None

    async def get_quote(self, symbol: str) -> Quote:
        """Return the current top of book."""
        return self.engine.quote(symbol)

    async def get_bars(
        self, symbol: str, interval: BarInterval, *, limit: int, end: datetime | None = None
    ) -> list[Bar]:
        """Return bars from the engine's own price history."""
        return self.engine.bars(symbol, interval, limit, end)

    async def ping(self) -> float:
        """Measure a call into the engine."""
        started = time.perf_counter()
        self.engine.symbols()
        return time.perf_counter() - started
