"""The streaming hub: routes bus events to this process's WebSocket clients by channel.

One task reads the bus and offers each event to the clients subscribed to its channel,
JSON-encoding it once for all of them. Offering never blocks (see `streaming.client`),
so a slow client cannot delay the hub, other clients, or the publishers behind the bus.
The hub listens to the bus only while it has clients, so an API without WebSocket
clients builds no event payloads at all on the in-process bus.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import structlog

from stocks_api.core import metrics
from stocks_api.events.bus import GAP_TOPIC, Event, EventBus
from stocks_api.streaming.client import ClientStream
from stocks_api.streaming.protocol import QUOTE_TOPIC, channel_of, encode, quote_symbol, timestamp

log = structlog.get_logger(__name__)

# Events the hub may hold between the bus and its clients before the bus drops the oldest.
HUB_QUEUE_SIZE = 100_000


class QuoteWatcher(Protocol):
    """What the hub needs from the quote feed: which symbols clients follow."""

    def watch(self, symbol: str) -> None: ...

    def unwatch(self, symbol: str) -> None: ...


class StreamHub:
    """Routes events to subscribed clients; see the module docstring."""

    def __init__(self, bus: EventBus, quotes: QuoteWatcher) -> None:
        self._bus = bus
        self._quotes = quotes
        self._routes: dict[str, set[ClientStream]] = {}
        self._clients: set[ClientStream] = set()
        self._queue: asyncio.Queue[Event] | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # -- clients -----------------------------------------------------------------------------

    def connect(self, client: ClientStream) -> None:
        """Register an authenticated client (with no subscriptions yet)."""
        self._clients.add(client)
        metrics.WEBSOCKET_CLIENTS.set(len(self._clients))
        if self._task is None:
            self._queue = self._bus.subscribe(HUB_QUEUE_SIZE)
            self._task = asyncio.create_task(self._run(), name="stream-hub")

    async def disconnect(self, client: ClientStream) -> None:
        """Forget a client and its subscriptions."""
        self.unsubscribe(client, tuple(client.channels))
        self._clients.discard(client)
        metrics.WEBSOCKET_CLIENTS.set(len(self._clients))
        if not self._clients:
            await self.close()

    def subscribe(self, client: ClientStream, channels: tuple[str, ...]) -> None:
        """Deliver the events of `channels` to `client` from now on."""
        for channel in channels:
            if channel in client.channels:
                continue
            client.channels.add(channel)
            self._routes.setdefault(channel, set()).add(client)
            symbol = quote_symbol(channel)
            if symbol is not None:
                self._quotes.watch(symbol)

    def unsubscribe(self, client: ClientStream, channels: tuple[str, ...]) -> None:
        """Stop delivering `channels` to `client` (channels it never had are ignored)."""
        for channel in channels:
            if channel not in client.channels:
                continue
            client.channels.discard(channel)
            subscribers = self._routes.get(channel)
            if subscribers is not None:
                subscribers.discard(client)
                if not subscribers:
                    del self._routes[channel]
            symbol = quote_symbol(channel)
            if symbol is not None:
                self._quotes.unwatch(symbol)
                client.forget_quotes(symbol)

    # -- routing -----------------------------------------------------------------------------

    def route(self, topic: str, data: dict[str, object]) -> None:
        """Offer one event to the clients of its channel."""
        if topic == GAP_TOPIC:
            for client in self._clients:
                client.offer_resync(str(data.get("reason", "events may have been lost")))
            return
        channel = channel_of(topic, data)
        clients = self._routes.get(channel) if channel is not None else None
        if not clients:
            return
        ts, data_json = timestamp(), encode(data)
        symbol = quote_symbol(channel) if topic == QUOTE_TOPIC and channel else None
        if symbol is not None:
            for client in clients:
                client.offer_quote(symbol, ts, data_json)
        else:
            for client in clients:
                client.offer(topic, ts, data_json)

    async def close(self) -> None:
        """Stop listening to the bus."""
        task, self._task = self._task, None
        queue, self._queue = self._queue, None
        if queue is not None:
            self._bus.unsubscribe(queue)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        queue = self._queue
        assert queue is not None
        while True:
            topic, data = await queue.get()
            try:
                self.route(topic, data)
            except Exception:  # one bad event must not end the stream for everyone
                log.exception("stream_route_failed", topic=topic)
