"""SimBroker: the in-process simulated broker, a `BrokerClient` over the matching engine.

The engine is synchronous and deterministic; this adapter gives it the async broker
interface and a clock: a background task moves prices every `SIM_TICK_INTERVAL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from stocks_api.broker.protocol import (
    BrokerUnavailableError,
    EventSink,
    OrderChange,
    OrderRequest,
    Quote,
)
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.core.config import SimSettings

log = structlog.get_logger(__name__)


class SimBroker:
    """A simulated broker with a real matching engine, living inside the API process."""

    kind = "sim"

    def __init__(self, settings: SimSettings, *, tick: bool = True) -> None:
        self._settings = settings
        self._tick_enabled = tick
        self._engine: MatchingEngine | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def engine(self) -> MatchingEngine:
        """The matching engine (for tests and the gateway simulator)."""
        if self._engine is None:
            raise BrokerUnavailableError("simulated broker is not connected")
        return self._engine

    @property
    def is_connected(self) -> bool:
        return self._engine is not None

    async def connect(self, sink: EventSink) -> None:
        # A fresh id prefix per start: a restarted engine never reuses an order or
        # execution id that is already stored.
        self._engine = MatchingEngine(
            symbols=self._settings.symbol_specs(),
            seed=self._settings.seed,
            on_event=sink,
            id_prefix=f"SIM{time.time_ns() // 1_000_000:x}",
            volatility=self._settings.volatility,
        )
        if self._tick_enabled:
            self._ticker = asyncio.create_task(self._tick_forever(), name="sim-broker-ticker")
        log.info("sim_broker_connected", symbols=self._engine.symbols())

    async def close(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        self._engine = None

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.tick_interval_seconds)
            try:
                self.engine.tick()
            except BrokerUnavailableError:
                return
            except Exception:  # a bad tick must not stop the market
                log.exception("sim_tick_failed")

    async def is_tradable(self, symbol: str) -> bool:
        return self.engine.has_symbol(symbol)

    async def place_order(self, order: OrderRequest) -> str:
        return self.engine.submit(order)

    async def modify_order(self, broker_order_id: str, change: OrderChange) -> None:
        self.engine.modify(broker_order_id, change)

    async def cancel_order(self, broker_order_id: str) -> None:
        self.engine.cancel(broker_order_id)

    async def open_order_ids(self) -> set[str]:
        return {order.request.client_order_id for order in self.engine.open_orders()}

    async def get_quote(self, symbol: str) -> Quote:
        return self.engine.quote(symbol)

    async def ping(self) -> float:
        started = time.perf_counter()
        self.engine.symbols()
        return time.perf_counter() - started
