"""Helpers for the streaming tests: a recording WebSocket side and short, bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from prometheus_client import REGISTRY

from stocks_api.streaming.client import ClientStream

WAIT = 1.0  # the longest any test waits for something that should happen at once


async def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll `condition` every few milliseconds; fail the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not so within {timeout} s")
        await asyncio.sleep(0.002)


class Socket:
    """The sending side of a fake WebSocket: records frames and closes.

    Sending waits for `gate` (open unless `blocked`), so a test can hold the sender
    inside `send_text` like a socket whose peer stopped reading.
    """

    def __init__(self, *, blocked: bool = False, close_hangs: bool = False) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closes: list[tuple[int, str]] = []
        self.sends_started = 0
        self.gate = asyncio.Event()
        if not blocked:
            self.gate.set()
        self._close_hangs = close_hangs

    async def send_text(self, text: str) -> None:
        self.sends_started += 1
        await self.gate.wait()
        self.frames.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))
        if self._close_hangs:
            await asyncio.Event().wait()

    @property
    def types(self) -> list[str]:
        return [f["type"] for f in self.frames]

    @property
    def seqs(self) -> list[int]:
        return [f["seq"] for f in self.frames]


def make_client(
    socket: Socket,
    *,
    queue_size: int = 100,
    heartbeat_seconds: float = 30.0,
    close_timeout_seconds: float = 0.05,
) -> ClientStream:
    return ClientStream(
        send_text=socket.send_text,
        close=socket.close,
        queue_size=queue_size,
        heartbeat_seconds=heartbeat_seconds,
        close_timeout_seconds=close_timeout_seconds,
    )


@contextlib.asynccontextmanager
async def running(client: ClientStream) -> AsyncIterator[asyncio.Task[None]]:
    """Run the client's sender for the block; cancel it afterwards if still running."""
    task = asyncio.create_task(client.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def flush(client: ClientStream, socket: Socket, marker: str = "marker") -> None:
    """Offer a marker event and wait until it is sent: everything offered before it was."""
    client.offer(marker, "ts", "{}")
    await wait_until(lambda: marker in socket.types)


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    value = REGISTRY.get_sample_value(name, labels or {})
    return 0.0 if value is None else value
