"""The domain event bus: publishers don't know who listens.

In the embedded default the bus is in-process; a Redis implementation with the same
interface comes with the streaming work. Events are published only after the database
commit they describe.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)


class EventBus(Protocol):
    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Publish one event; never raises, never blocks the publisher for long."""
        ...

    def has_subscribers(self) -> bool:
        """Tell whether anyone listens (lets publishers skip building payloads)."""
        ...


class InProcessEventBus:
    """Fan-out to bounded in-process queues; a full queue drops its oldest event."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._queues: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = set()

    def has_subscribers(self) -> bool:
        return bool(self._queues)

    def subscribe(self) -> asyncio.Queue[tuple[str, dict[str, Any]]]:
        """Return a queue that receives every event published from now on."""
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(self._queue_size)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        self._queues.discard(queue)

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        for queue in self._queues:
            if queue.full():
                # A slow subscriber loses its oldest event rather than stalling trading.
                queue.get_nowait()
                log.warning("event_dropped", topic=topic)
            queue.put_nowait((topic, data))
