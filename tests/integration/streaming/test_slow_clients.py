"""A client that stops reading is closed with 4408 and harms nobody: not a fast client,
not the order path."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import REGISTRY

from tests.factories import place
from tests.integration.streaming.conftest import authenticated, live_app, stream_settings

EVENTS = 5000
PADDING = "x" * 2000  # big events fill the stalled client's socket buffers quickly
NO_COMPRESSION: dict[str, Any] = {"compression": None}  # or the padding shrinks to nothing


async def test_a_stalled_client_is_closed_while_a_fast_one_gets_everything_on_time(
    clean_database: str,
) -> None:
    settings = stream_settings(clean_database, queue_size=500)
    before = _too_slow_count()
    # Late in a full test run the heap is large, and one full collection can pause the loop
    # for a second: that is the test suite's heap, not the stream. Freezing what exists now
    # keeps those collections out of the latencies measured here.
    gc.collect()
    gc.freeze()
    try:
        await _stalled_and_fast(settings, before)
    finally:
        gc.unfreeze()


async def _stalled_and_fast(settings: Any, before: float) -> None:
    async with live_app(settings) as (app, http, base):
        key = app.state.test_key
        # The stalled client's library stops reading from the socket after one message,
        # and its small receive buffer fills soon after.
        async with (
            authenticated(
                base, key, max_queue=1, sock=_small_buffer_socket(base), **NO_COMPRESSION
            ) as stalled,
            authenticated(base, key, **NO_COMPRESSION) as fast,
        ):
            await stalled.subscribe("orders")
            await fast.subscribe("orders")
            latencies: list[float] = []

            async def read_fast() -> None:
                while len(latencies) < EVENTS:
                    message = await fast.next_of("order.updated", seconds=10)
                    if "sent" in message["data"]:
                        assert message["data"]["n"] == len(latencies)  # in order, none lost
                        latencies.append(time.time() - message["data"]["sent"])

            reader = asyncio.create_task(read_fast())
            for n in range(EVENTS):
                data = {"n": n, "sent": time.time(), "padding": PADDING}
                await app.state.bus.publish("order.updated", data)
                if n % 10 == 0:
                    await asyncio.sleep(0.001)  # a steady stream, not one burst

            # The order path is not held up by the stalled client either.
            started = time.perf_counter()
            order = await place(http, qty="1")
            assert time.perf_counter() - started < 2.0
            await asyncio.wait_for(reader, 30)
            assert len(latencies) == EVENTS
            latencies.sort()
            # A fan-out that waited on the stalled client would starve this one (the reads
            # above time out); on time means well under the seconds such a stall takes.
            assert latencies[int(EVENTS * 0.99)] < 1.5, latencies[-10:]
            update = await fast.next_of("order.updated")
            assert update["data"]["id"] == order["id"]

            # The stalled client reads again: what was already on its way, then 4408.
            seen: list[dict[str, Any]] = []
            code = None
            try:
                while True:
                    seen.append(json.loads(await asyncio.wait_for(stalled.connection.recv(), 10)))
            except Exception as exc:  # the close ends the reading
                code = getattr(getattr(exc, "rcvd", None), "code", None)
            assert code == 4408
            assert 0 < len(seen) < EVENTS
            seqs = [m["seq"] for m in seen]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap before the close

        assert _too_slow_count() == before + 1


def _too_slow_count() -> float:
    value = REGISTRY.get_sample_value("websocket_disconnects_total", {"reason": "too_slow"})
    return value or 0.0


def _small_buffer_socket(base: str) -> socket.socket:
    address = urlsplit(base)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((address.hostname, address.port))
    sock.setblocking(False)
    return sock
