"""The domain event bus: publishers don't know who listens.

Two implementations behind one interface: in-process (the embedded default) and Redis
pub/sub (`REDIS_URL`, `streaming.redis_bus`). Events are published only after the
database commit they describe, as the same JSON as the REST resources. Subscribers in
this process get bounded queues; a full queue drops its oldest event rather than
stalling the publisher (the WebSocket layer decides what a slow client deserves).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import structlog

from stocks_api.core import metrics

log = structlog.get_logger(__name__)

Event = tuple[str, dict[str, Any]]

# A topic only this process's subscribers see, never published: events may have been lost
# before they reached this process (a full queue, the bus reconnecting).
GAP_TOPIC = "bus.gap"


class EventBus(Protocol):
    async def start(self) -> None:
        """Connect (if there is anything to connect to)."""
        ...

    async def close(self) -> None:
        """Disconnect and stop background work."""
        ...

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Publish one event; never raises, never blocks the publisher for long."""
        ...

    def has_subscribers(self) -> bool:
        """Tell whether anyone may listen (lets publishers skip building payloads)."""
        ...

    def subscribe(self, queue_size: int | None = None) -> asyncio.Queue[Event]:
        """Return a queue that receives every event published from now on.

        `queue_size` bounds it (the bus's default when None); when full, the oldest
        event is dropped.
        """
        ...

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        """Stop delivering to `queue`."""
        ...

    def status(self) -> dict[str, Any]:
        """Report the bus for `/health`: `status` up or degraded, `kind`, details."""
        ...


class Fanout:
    """Delivery to this process's subscribers: one bounded queue each."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._queues: set[asyncio.Queue[Event]] = set()

    def __bool__(self) -> bool:
        return bool(self._queues)

    def subscribe(self, queue_size: int | None = None) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(queue_size or self._queue_size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._queues.discard(queue)

    def deliver(self, topic: str, data: dict[str, Any]) -> None:
        for queue in self._queues:
            if queue.full():
                # A slow subscriber loses its oldest events rather than stalling trading,
                # and finds a gap marker where they were (the hub tells clients to re-sync).
                marker = queue.maxsize >= 3  # room for the marker and the event
                while queue.maxsize - queue.qsize() < (2 if marker else 1):
                    queue.get_nowait()
                    metrics.EVENTS_DROPPED.inc()
                if marker:
                    queue.put_nowait((GAP_TOPIC, {"reason": "events were dropped: far behind"}))
            queue.put_nowait((topic, data))

    def deliver_gap(self, reason: str) -> None:
        """Tell this process's subscribers that events may have been lost on the way."""
        self.deliver(GAP_TOPIC, {"reason": reason})


class InProcessEventBus:
    """Events stay in this process."""

    kind = "in-process"

    def __init__(self, queue_size: int = 1000) -> None:
        self._fanout = Fanout(queue_size)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def has_subscribers(self) -> bool:
        return bool(self._fanout)

    def subscribe(self, queue_size: int | None = None) -> asyncio.Queue[Event]:
        return self._fanout.subscribe(queue_size)

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._fanout.unsubscribe(queue)

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        metrics.EVENTS_PUBLISHED.labels(topic=topic).inc()
        self._fanout.deliver(topic, data)

    def status(self) -> dict[str, Any]:
        return {"status": "up", "kind": self.kind}
