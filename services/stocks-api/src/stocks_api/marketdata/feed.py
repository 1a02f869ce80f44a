"""The quote feed: publishes `quote` events for the symbols WebSocket clients follow.

The `BrokerClient` answers quote requests; it does not push them. The feed asks for the
quotes of every watched symbol each `interval` and publishes those that changed, so the
stream costs one quote request per symbol per interval however many clients follow it.
`marketdata_subscriptions` counts the watched symbols. While the broker is not connected
(a read-only instance, a dropped IB link) the feed waits instead of polling.

Listeners (`on_quote`) hear every quote the feed publishes, right after it is published:
the live position marks value positions at the very quotes the watchlist shows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog

from stocks_api.broker.calls import call_broker
from stocks_api.broker.protocol import BrokerClient, Quote
from stocks_api.core import metrics
from stocks_api.core.errors import AppError
from stocks_api.events.bus import EventBus
from stocks_api.marketdata.schemas import QuoteRead

log = structlog.get_logger(__name__)


class QuoteFeed:
    """Polls the broker for watched symbols; see the module docstring."""

    def __init__(
        self, *, broker: BrokerClient, bus: EventBus, interval: float, timeout: float
    ) -> None:
        self._broker = broker
        self._bus = bus
        self._interval = interval
        self._timeout = timeout
        self._watchers: Counter[str] = Counter()
        self._last: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[Quote], None]] = []

    def on_quote(self, listener: Callable[[Quote], None]) -> None:
        """Call `listener` (synchronously, never blocking) with each quote published."""
        self._listeners.append(listener)

    def off_quote(self, listener: Callable[[Quote], None]) -> None:
        """Stop calling `listener`."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def watch(self, symbol: str) -> None:
        """Follow `symbol` (once more; every watch is undone by one unwatch)."""
        self._watchers[symbol] += 1
        metrics.MARKETDATA_SUBSCRIPTIONS.set(len(self._watchers))
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="quote-feed")

    def unwatch(self, symbol: str) -> None:
        """Undo one `watch`; the symbol is dropped when nobody follows it."""
        self._watchers[symbol] -= 1
        if self._watchers[symbol] <= 0:
            del self._watchers[symbol]
            self._last.pop(symbol, None)
        metrics.MARKETDATA_SUBSCRIPTIONS.set(len(self._watchers))

    @property
    def watched(self) -> list[str]:
        return sorted(self._watchers)

    async def close(self) -> None:
        """Stop polling."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def snapshot(self, symbol: str) -> dict[str, Any]:
        """The current quote of `symbol` as its JSON resource (sent to a new subscriber).

        Raises:
            AppError: the broker is unavailable or too slow.
        """
        return _resource(await self._quote(symbol))

    async def _quote(self, symbol: str) -> Quote:
        return await call_broker(self._broker.get_quote(symbol), timeout=self._timeout)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if not self._broker.is_connected:
                # A read-only instance never connects, an IB link may be down for a while:
                # no quotes to poll, and no failure to log every interval.
                continue
            symbols = list(self._watchers)
            results = await asyncio.gather(*(self._poll(symbol) for symbol in symbols))
            for symbol, quote in zip(symbols, results, strict=True):
                if quote is None or symbol not in self._watchers:
                    continue
                data = _resource(quote)
                if self._last.get(symbol) == data:
                    continue
                self._last[symbol] = data
                await self._bus.publish("quote", data)
                for listener in self._listeners:
                    try:
                        listener(quote)
                    except Exception:  # a listener's failure must not stop the feed
                        log.exception("quote_listener_failed", symbol=symbol)

    async def _poll(self, symbol: str) -> Quote | None:
        try:
            return await self._quote(symbol)
        except AppError as exc:
            log.warning("quote_poll_failed", symbol=symbol, error=exc.message)
        except Exception:  # one symbol's failure must not stop the feed
            log.exception("quote_poll_failed", symbol=symbol)
        return None


def _resource(quote: Quote) -> dict[str, Any]:
    return QuoteRead.model_validate(quote).model_dump(mode="json")
