"""The Redis event bus: domain events on Redis pub/sub, shared by every API process.

Each event is published on the channel `stocks:<topic>` (`stocks:order.updated`, ...)
with the resource's JSON as the message, so any program can follow with
`redis-cli psubscribe 'stocks:*'`. This process's own subscribers are fed from one
pattern subscription, so they see the events of every API process on the same Redis in
one order.

When Redis goes away trading goes on: a publish that fails is delivered to this
process's subscribers directly, `status()` reports the bus as degraded, and the listener
reconnects with backoff by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stocks_api.core import metrics
from stocks_api.events.bus import Event, Fanout

log = structlog.get_logger(__name__)

CHANNEL_PREFIX = "stocks:"
OPERATION_TIMEOUT_SECONDS = 1.0
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 2.0


class RedisEventBus:
    """Events through Redis pub/sub; see the module docstring."""

    kind = "redis"

    def __init__(self, url: str, *, queue_size: int = 1000) -> None:
        self._url = url
        self._client: Redis = Redis.from_url(
            url,
            socket_connect_timeout=OPERATION_TIMEOUT_SECONDS,
            socket_timeout=None,  # the listener blocks on reads; publishes have their own
        )
        self._fanout = Fanout(queue_size)
        self._listening = asyncio.Event()  # set while the pattern subscription is live
        self._listener: asyncio.Task[None] | None = None
        self._last_error: str | None = None
        self._subscriptions = 0  # successful subscriptions so far (resets the backoff)

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening; waits briefly for the first subscription, never fails for Redis."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen_forever(), name="redis-bus")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), OPERATION_TIMEOUT_SECONDS)

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await self._client.aclose()

    # -- publishing -------------------------------------------------------------------------

    def has_subscribers(self) -> bool:
        return True  # other processes and programs may listen on Redis

    def subscribe(self, queue_size: int | None = None) -> asyncio.Queue[Event]:
        return self._fanout.subscribe(queue_size)

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._fanout.unsubscribe(queue)

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        metrics.EVENTS_PUBLISHED.labels(topic=topic).inc()
        message = json.dumps(data, separators=(",", ":"))
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT_SECONDS):
                await self._client.publish(CHANNEL_PREFIX + topic, message)
        except (RedisError, OSError, TimeoutError) as exc:
            metrics.REDIS_OPERATIONS.labels(operation="publish", result="error").inc()
            self._note_error(exc)
            self._fanout.deliver(topic, data)  # this process's clients still see it
            return
        metrics.REDIS_OPERATIONS.labels(operation="publish", result="ok").inc()
        if not self._listening.is_set():
            # Published, but our own subscription is not back yet: it would not reach us.
            self._fanout.deliver(topic, data)

    def status(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "status": "up" if self._listening.is_set() else "degraded",
            "kind": self.kind,
            "channels": CHANNEL_PREFIX + "*",
        }
        if not self._listening.is_set() and self._last_error:
            report["error"] = self._last_error
        return report

    # -- listening --------------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        backoff = BACKOFF_FIRST_SECONDS
        while True:
            before = self._subscriptions
            try:
                await self._listen_once()
            except Exception as exc:  # the bus must outlive any Redis failure
                metrics.REDIS_OPERATIONS.labels(operation="subscribe", result="error").inc()
                self._note_error(exc)
            if self._subscriptions != before:
                backoff = BACKOFF_FIRST_SECONDS  # it was connected: retry soon
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    async def _listen_once(self) -> None:
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.psubscribe(CHANNEL_PREFIX + "*")
            metrics.REDIS_OPERATIONS.labels(operation="subscribe", result="ok").inc()
            self._subscriptions += 1
            if self._subscriptions > 1:
                # Whatever other processes published while we were away never reaches us.
                self._fanout.deliver_gap("the event bus reconnected")
            if self._last_error is not None:
                log.info("redis_bus_reconnected")
            self._last_error = None
            self._listening.set()
            async for message in pubsub.listen():
                if message.get("type") != "pmessage":
                    continue
                channel = _text(message["channel"])
                try:
                    data = json.loads(message["data"])
                except (TypeError, ValueError):
                    log.warning("redis_bus_bad_message", channel=channel)
                    continue
                self._fanout.deliver(channel.removeprefix(CHANNEL_PREFIX), data)
        finally:
            self._listening.clear()
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _note_error(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if text != self._last_error:
            log.warning("redis_bus_degraded", error=text)
        self._last_error = text


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
