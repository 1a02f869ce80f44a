"""One WebSocket client's outgoing side: a bounded queue and the task that sends it.

The hub only ever *offers* messages to a client, which never blocks and never fails: the
message is queued, or, when the queue is full, the client is marked too slow and its
sender closes the connection (close code 4408). A slow client therefore costs the hub
and every other client nothing. Quotes are coalesced instead: a client holds at most one
unsent quote per symbol, replaced by newer ones, so quotes alone never overflow it.

`seq` is assigned when a message is sent, so what a client receives is numbered 1, 2,
3, ... without gaps (coalesced quotes are not gaps: they were never messages). When the
server knows events may have been lost before they reached this process (the bus
reconnected, or fell behind), the client gets a `resync` message whose `seq` skips one
number, so a client that only watches `seq` re-syncs too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

from stocks_api.core import metrics
from stocks_api.streaming.protocol import (
    CLOSE_TOO_SLOW,
    QUOTE_TOPIC,
    RESYNC,
    encode,
    frame,
    timestamp,
)

log = structlog.get_logger(__name__)

# (type, ts, data as JSON) of a queued message; a quote is queued as its symbol alone.
Queued = tuple[str, str, str] | str
SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


class ClientStream:
    """The outgoing queue and sender of one connection; see the module docstring."""

    def __init__(
        self,
        *,
        send_text: SendText,
        close: Close,
        queue_size: int,
        heartbeat_seconds: float,
        close_timeout_seconds: float = 10.0,
    ) -> None:
        self._send_text = send_text
        self._close = close
        self._queue_size = queue_size
        self._heartbeat = heartbeat_seconds
        self._close_timeout = close_timeout_seconds
        self._queue: deque[Queued] = deque()
        self._queued_events = 0  # entries of `_queue` that are not coalesced quotes
        self._quotes: dict[str, tuple[str, str]] = {}  # symbol -> newest unsent (ts, data)
        self._last_quote: dict[str, str] = {}  # symbol -> data last sent (drops repeats)
        self._wakeup = asyncio.Event()
        self._too_slow = False
        self._task: asyncio.Task[None] | None = None
        self._beat: asyncio.TimerHandle | None = None
        self._last_sent = 0.0
        self._resync_pending = False
        self.seq = 0
        self.channels: set[str] = set()

    @property
    def too_slow(self) -> bool:
        return self._too_slow

    # -- offering (never blocks) -----------------------------------------------------------

    def offer(self, message_type: str, ts: str, data_json: str) -> None:
        """Queue one message, or mark the client too slow when its queue is full."""
        if self._too_slow:
            return
        if self._queued_events >= self._queue_size:
            self._too_slow = True
            metrics.WEBSOCKET_DISCONNECTS.labels(reason="too_slow").inc()
            self._wakeup.set()
            # The sender may be stuck in a send to a client that stopped reading; the
            # close frame would wait behind it. Past the close timeout, give up on both.
            asyncio.get_running_loop().call_later(self._close_timeout, self._give_up)
            return
        self._queue.append((message_type, ts, data_json))
        self._queued_events += 1
        self._wakeup.set()

    def offer_quote(self, symbol: str, ts: str, data_json: str) -> None:
        """Queue a quote, replacing an unsent one of the same symbol."""
        if self._too_slow:
            return
        if symbol not in self._quotes:
            self._queue.append(symbol)
        self._quotes[symbol] = (ts, data_json)
        self._wakeup.set()

    def reply(self, message_type: str, data: object) -> None:
        """Queue an answer to the client (ack, error, pong), timestamped now."""
        self.offer(message_type, timestamp(), encode(data))

    # -- sending ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Send queued messages until cancelled; heartbeat when idle; close when too slow."""
        self._task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        self._last_sent = loop.time()
        # One timer per heartbeat period, not one per wait: waits happen per event.
        self._beat = loop.call_later(self._heartbeat, self._heartbeat_due)
        try:
            await self._send_forever(loop)
        finally:
            if self._beat is not None:
                self._beat.cancel()

    async def _send_forever(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            if not self._queue and not self._too_slow:
                self._wakeup.clear()
                await self._wakeup.wait()
            if self._too_slow:
                await self._close_too_slow()
                return
            while self._queue and not self._too_slow:
                item = self._queue.popleft()
                if isinstance(item, str):
                    pending = self._quotes.pop(item, None)
                    if pending is None:
                        continue  # unsubscribed meanwhile
                    ts, data_json = pending
                    if self._last_quote.get(item) == data_json:
                        continue  # the same quote again (another process published it too)
                    self._last_quote[item] = data_json
                    message_type = QUOTE_TOPIC
                else:
                    self._queued_events -= 1
                    message_type, ts, data_json = item
                    if message_type == RESYNC:
                        self.seq += 1  # the number skipped stands for what was lost
                        self._resync_pending = False
                self.seq += 1
                await self._send_text(frame(message_type, self.seq, ts, data_json))
            self._last_sent = loop.time()

    def _heartbeat_due(self) -> None:
        loop = asyncio.get_running_loop()
        idle = loop.time() - self._last_sent
        if idle >= self._heartbeat * 0.999 and not self._queue:
            self.offer("heartbeat", timestamp(), "{}")
            idle = 0.0
        self._beat = loop.call_later(max(self._heartbeat - idle, 0.001), self._heartbeat_due)

    def offer_resync(self, reason: str) -> None:
        """Tell the client events may have been lost, once until it has read that."""
        if self._resync_pending:
            return
        self._resync_pending = True
        self.offer(RESYNC, timestamp(), encode({"reason": reason}))

    def forget_quotes(self, symbol: str) -> None:
        """Drop the unsent and the remembered quote of a symbol the client no longer follows."""
        self._quotes.pop(symbol, None)
        self._last_quote.pop(symbol, None)

    async def _close_too_slow(self) -> None:
        self._queue.clear()
        self._quotes.clear()
        log.warning("websocket_client_too_slow", sent=self.seq)
        # The close frame waits behind what the socket still buffers: a client that reads
        # again soon sees code 4408; one that never does is dropped when we give up.
        with contextlib.suppress(Exception):
            await self._close(CLOSE_TOO_SLOW, "too slow: the outgoing queue filled up")

    def _give_up(self) -> None:
        if self._task is not None and not self._task.done():
            log.warning("websocket_client_abandoned", sent=self.seq)
            self._task.cancel()
