"""One client's outgoing side: ordering, seq, heartbeats, overflow, quote coalescing."""

from __future__ import annotations

import asyncio
import json

from stocks_api.streaming.protocol import CLOSE_TOO_SLOW, encode
from tests.unit.streaming.support import (
    WAIT,
    Socket,
    flush,
    make_client,
    running,
    sample,
    wait_until,
)

TOO_SLOW_REASON = "too slow: the outgoing queue filled up"


def too_slow_count() -> float:
    return sample("websocket_disconnects_total", {"reason": "too_slow"})


async def ended(task: asyncio.Task[None], timeout: float = WAIT) -> None:
    """Wait until the sender ends by itself (returned, or cancelled when given up on)."""
    async with asyncio.timeout(timeout):
        await asyncio.wait({task})
    assert task.done()
    assert task.cancelled() or task.exception() is None


def quote(symbol: str, last: str) -> str:
    return encode({"symbol": symbol, "last": last})


# -- ordering and seq ---------------------------------------------------------------------


async def test_messages_are_sent_in_order_numbered_from_one() -> None:
    socket = Socket()
    client = make_client(socket)
    async with running(client):
        client.offer("order.updated", "2024-01-01T00:00:00.000000Z", '{"id":1}')
        client.offer("fill.created", "2024-01-01T00:00:01.000000Z", '{"id":2}')
        client.offer("order.updated", "2024-01-01T00:00:02.000000Z", '{"id":3}')
        await wait_until(lambda: len(socket.frames) == 3)
    assert socket.frames == [
        {"type": "order.updated", "seq": 1, "ts": "2024-01-01T00:00:00.000000Z", "data": {"id": 1}},
        {"type": "fill.created", "seq": 2, "ts": "2024-01-01T00:00:01.000000Z", "data": {"id": 2}},
        {"type": "order.updated", "seq": 3, "ts": "2024-01-01T00:00:02.000000Z", "data": {"id": 3}},
    ]
    assert client.seq == 3


async def test_messages_offered_before_the_sender_starts_are_sent_once_it_runs() -> None:
    socket = Socket()
    client = make_client(socket)
    for i in range(5):
        client.offer("risk.state", "ts", encode({"n": i}))
    assert socket.frames == []
    async with running(client):
        await wait_until(lambda: len(socket.frames) == 5)
    assert [f["data"]["n"] for f in socket.frames] == [0, 1, 2, 3, 4]
    assert socket.seqs == [1, 2, 3, 4, 5]


async def test_seq_stays_gap_free_across_bursts() -> None:
    socket = Socket()
    client = make_client(socket)
    async with running(client):
        for burst in range(3):
            for i in range(4):
                client.offer("orders", "ts", encode({"burst": burst, "i": i}))
            await wait_until(lambda b=burst: len(socket.frames) == 4 * (b + 1))
    assert socket.seqs == list(range(1, 13))


async def test_reply_builds_a_timestamped_message() -> None:
    socket = Socket()
    client = make_client(socket)
    async with running(client):
        client.reply("error", {"code": "UNKNOWN_OP", "message": "no", "details": [], "id": 7})
        client.reply("pong", {"id": "abc"})
        client.reply("subscribed", {"channels": ["orders", "quotes:AAPL"]})
        await wait_until(lambda: len(socket.frames) == 3)
    error, pong, ack = socket.frames
    assert error["type"] == "error"
    assert error["seq"] == 1
    assert error["data"] == {"code": "UNKNOWN_OP", "message": "no", "details": [], "id": 7}
    assert pong == pong | {"type": "pong", "seq": 2, "data": {"id": "abc"}}
    assert ack["type"] == "subscribed"
    assert ack["seq"] == 3
    assert ack["data"] == {"channels": ["orders", "quotes:AAPL"]}
    for message in socket.frames:
        assert message["ts"].endswith("Z")


# -- heartbeat ----------------------------------------------------------------------------------


async def test_a_heartbeat_is_sent_after_the_idle_time() -> None:
    socket = Socket()
    client = make_client(socket, heartbeat_seconds=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with running(client):
        await wait_until(lambda: len(socket.frames) >= 1)
        elapsed = loop.time() - started
    heartbeat = socket.frames[0]
    assert heartbeat["type"] == "heartbeat"
    assert heartbeat["seq"] == 1
    assert heartbeat["data"] == {}
    assert heartbeat["ts"].endswith("Z")
    assert elapsed >= 0.045


async def test_heartbeats_repeat_and_share_seq_with_messages() -> None:
    socket = Socket()
    client = make_client(socket, heartbeat_seconds=0.02)
    async with running(client):
        await wait_until(lambda: socket.types.count("heartbeat") >= 2)
        client.offer("orders", "ts", "{}")
        await wait_until(lambda: "orders" in socket.types)
        await wait_until(lambda: socket.types[-1] == "heartbeat")
    assert socket.seqs == list(range(1, len(socket.frames) + 1))


async def test_the_idle_time_counts_from_the_last_message() -> None:
    socket = Socket()
    client = make_client(socket, heartbeat_seconds=0.1)
    loop = asyncio.get_running_loop()
    async with running(client):
        await asyncio.sleep(0.06)
        client.offer("orders", "ts", "{}")
        await wait_until(lambda: len(socket.frames) == 1)
        sent = loop.time()
        await wait_until(lambda: len(socket.frames) == 2)
        gap = loop.time() - sent
    assert socket.types == ["orders", "heartbeat"]
    assert socket.seqs == [1, 2]
    assert gap >= 0.09


# -- a client that does not keep up ---------------------------------------------------------


async def test_overflowing_the_queue_marks_the_client_too_slow_and_closes_it() -> None:
    socket = Socket(blocked=True)
    client = make_client(socket, queue_size=3)
    before = too_slow_count()
    for i in range(3):
        client.offer("orders", "ts", encode({"i": i}))
    assert not client.too_slow  # exactly full is not too slow
    client.offer("orders", "ts", encode({"i": 3}))
    assert client.too_slow
    assert too_slow_count() == before + 1
    async with running(client) as task:
        await ended(task)  # run() ends by itself after closing
    assert socket.closes == [(CLOSE_TOO_SLOW, TOO_SLOW_REASON)]
    assert CLOSE_TOO_SLOW == 4408
    assert socket.sends_started == 0
    assert socket.frames == []


async def test_a_too_slow_client_ignores_further_offers() -> None:
    socket = Socket(blocked=True)
    client = make_client(socket, queue_size=1)
    before = too_slow_count()
    client.offer("orders", "ts", "{}")
    client.offer("orders", "ts", "{}")
    assert client.too_slow
    for _ in range(5):
        client.offer("orders", "ts", "{}")
        client.offer_quote("AAPL", "ts", quote("AAPL", "1"))
        client.reply("pong", {})
    assert too_slow_count() == before + 1  # counted once, not once per ignored offer
    async with running(client) as task:
        await ended(task)
    assert socket.frames == []
    assert socket.closes == [(CLOSE_TOO_SLOW, TOO_SLOW_REASON)]
    assert client.too_slow


async def test_a_sender_held_up_in_a_send_closes_once_that_send_completes() -> None:
    socket = Socket(blocked=True)
    client = make_client(socket, queue_size=3)
    async with running(client) as task:
        client.offer("orders", "ts", encode({"i": 0}))
        await wait_until(lambda: socket.sends_started == 1)
        for i in range(1, 4):  # the first left the queue when its send began
            client.offer("orders", "ts", encode({"i": i}))
        assert not client.too_slow
        client.offer("orders", "ts", encode({"i": 4}))
        assert client.too_slow
        socket.gate.set()
        await ended(task)
    assert [f["data"] for f in socket.frames] == [{"i": 0}]
    assert socket.closes == [(CLOSE_TOO_SLOW, TOO_SLOW_REASON)]


async def test_a_sender_stuck_in_a_send_is_given_up_after_the_close_timeout() -> None:
    # A peer that stopped reading: send_text never returns, so no close frame can follow
    # it. The sender must still end (the connection is dropped) once the close timeout passed.
    socket = Socket(blocked=True)  # the gate never opens
    client = make_client(socket, queue_size=2, close_timeout_seconds=0.05)
    async with running(client) as task:
        client.offer("orders", "ts", "{}")
        await wait_until(lambda: socket.sends_started == 1)
        for _ in range(3):
            client.offer("orders", "ts", "{}")
        assert client.too_slow
        await ended(task, timeout=0.3)
    assert socket.frames == []


async def test_a_close_that_hangs_is_given_up_after_the_close_timeout() -> None:
    socket = Socket(blocked=True, close_hangs=True)
    client = make_client(socket, queue_size=1, close_timeout_seconds=0.02)
    async with running(client) as task:
        client.offer("orders", "ts", "{}")
        client.offer("orders", "ts", "{}")
        await ended(task, timeout=0.3)
    assert socket.closes == [(CLOSE_TOO_SLOW, TOO_SLOW_REASON)]


async def test_a_close_that_fails_still_ends_the_sender() -> None:
    async def failing_close(code: int, reason: str) -> None:
        raise RuntimeError("socket gone")

    socket = Socket()
    client = make_client(socket, queue_size=1)
    client._close = failing_close  # type: ignore[assignment]
    client.offer("orders", "ts", "{}")
    client.offer("orders", "ts", "{}")
    async with running(client) as task:
        await ended(task)
    assert task.exception() is None


# -- quotes ---------------------------------------------------------------------------------


async def test_quotes_of_a_symbol_are_coalesced_to_the_newest() -> None:
    socket = Socket(blocked=True)
    client = make_client(socket, queue_size=2)
    async with running(client):
        client.offer("orders", "ts", "{}")
        await wait_until(lambda: socket.sends_started == 1)
        for i in range(100):
            client.offer_quote("AAPL", f"ts{i}", quote("AAPL", str(i)))
        assert not client.too_slow  # quotes alone never overflow the queue
        assert len(client._quotes) == 1
        socket.gate.set()
        await flush(client, socket)
    assert socket.types == ["orders", "quote", "marker"]
    assert socket.frames[1]["data"] == {"symbol": "AAPL", "last": "99"}
    assert socket.frames[1]["ts"] == "ts99"
    assert socket.seqs == [1, 2, 3]  # coalesced quotes leave no gaps
    assert client.seq == 3


async def test_quotes_of_many_symbols_never_overflow_the_queue() -> None:
    socket = Socket(blocked=True)
    client = make_client(socket, queue_size=1)
    symbols = [f"S{n}" for n in range(50)]
    async with running(client):
        client.offer("orders", "ts", "{}")
        await wait_until(lambda: socket.sends_started == 1)
        for i in range(10):
            for symbol in symbols:
                client.offer_quote(symbol, "ts", quote(symbol, str(i)))
        assert not client.too_slow
        socket.gate.set()
        await wait_until(lambda: len(socket.frames) == 1 + len(symbols))
        await flush(client, socket)
    quotes = [f["data"] for f in socket.frames if f["type"] == "quote"]
    assert quotes == [{"symbol": s, "last": "9"} for s in symbols]
    assert socket.seqs == list(range(1, len(symbols) + 3))


async def test_a_pending_quote_keeps_its_place_and_takes_the_newest_data() -> None:
    socket = Socket(blocked=True)
    client = make_client(socket)
    client.offer_quote("AAPL", "ts", quote("AAPL", "1"))
    client.offer("orders", "ts", "{}")
    client.offer_quote("AAPL", "ts", quote("AAPL", "2"))
    socket.gate.set()
    async with running(client):
        await flush(client, socket)
    assert socket.types == ["quote", "orders", "marker"]
    assert socket.frames[0]["data"]["last"] == "2"


async def test_a_quote_after_one_was_sent_is_queued_again() -> None:
    socket = Socket()
    client = make_client(socket)
    async with running(client):
        client.offer_quote("AAPL", "ts", quote("AAPL", "1"))
        await wait_until(lambda: len(socket.frames) == 1)
        client.offer_quote("AAPL", "ts", quote("AAPL", "2"))
        await wait_until(lambda: len(socket.frames) == 2)
    assert [f["data"]["last"] for f in socket.frames] == ["1", "2"]
    assert socket.seqs == [1, 2]


async def test_the_same_quote_is_not_sent_twice_in_a_row() -> None:
    socket = Socket()
    client = make_client(socket)
    async with running(client):
        client.offer_quote("AAPL", "ts1", quote("AAPL", "1"))
        await flush(client, socket, "m1")
        client.offer_quote("AAPL", "ts2", quote("AAPL", "1"))  # same data, newer ts
        await flush(client, socket, "m2")
        client.offer_quote("AAPL", "ts3", quote("AAPL", "2"))
        await flush(client, socket, "m3")
        client.offer_quote("AAPL", "ts4", quote("AAPL", "1"))  # differs from the last sent
        await flush(client, socket, "m4")
    assert socket.types == ["quote", "m1", "m2", "quote", "m3", "quote", "m4"]
    assert [f["data"]["last"] for f in socket.frames if f["type"] == "quote"] == ["1", "2", "1"]
    assert socket.seqs == list(range(1, 8))  # the dropped repeat took no seq


async def test_repeats_are_judged_per_symbol() -> None:
    socket = Socket()
    client = make_client(socket)
    async with running(client):
        client.offer_quote("AAPL", "ts", '{"last":"1"}')
        client.offer_quote("MSFT", "ts", '{"last":"1"}')
        await wait_until(lambda: len(socket.frames) == 2)
    assert socket.types == ["quote", "quote"]


async def test_forget_quotes_drops_a_pending_quote() -> None:
    socket = Socket(blocked=True)
    client = make_client(socket)
    async with running(client):
        client.offer("orders", "ts", "{}")
        await wait_until(lambda: socket.sends_started == 1)
        client.offer_quote("AAPL", "ts", quote("AAPL", "1"))
        client.offer_quote("MSFT", "ts", quote("MSFT", "1"))
        client.forget_quotes("AAPL")
        socket.gate.set()
        await flush(client, socket)
    assert socket.types == ["orders", "quote", "marker"]
    assert socket.frames[1]["data"]["symbol"] == "MSFT"
    assert socket.seqs == [1, 2, 3]


async def test_forget_quotes_also_forgets_the_last_sent_quote() -> None:
    socket = Socket()
    client = make_client(socket)
    async with running(client):
        client.offer_quote("AAPL", "ts", quote("AAPL", "1"))
        await wait_until(lambda: len(socket.frames) == 1)
        client.forget_quotes("AAPL")
        client.offer_quote("AAPL", "ts", quote("AAPL", "1"))  # a re-subscriber gets it again
        await flush(client, socket)
    assert socket.types == ["quote", "quote", "marker"]


async def test_a_quote_offered_after_forget_is_sent_once() -> None:
    socket = Socket(blocked=True)
    client = make_client(socket)
    client.offer_quote("AAPL", "ts", quote("AAPL", "1"))
    client.forget_quotes("AAPL")
    client.offer_quote("AAPL", "ts", quote("AAPL", "2"))
    socket.gate.set()
    async with running(client):
        await flush(client, socket)
    assert socket.types == ["quote", "marker"]
    assert socket.frames[0]["data"]["last"] == "2"
    assert socket.seqs == [1, 2]


async def test_forget_quotes_of_an_unknown_symbol_is_harmless() -> None:
    client = make_client(Socket())
    client.forget_quotes("NOPE")
    assert not client.too_slow


async def test_quote_frames_are_json_with_the_quote_type() -> None:
    socket = Socket()
    client = make_client(socket)
    data = {"symbol": "AAPL", "bid": "189.5", "ask": "189.52"}
    async with running(client):
        client.offer_quote("AAPL", "2024-01-01T00:00:00.000000Z", json.dumps(data))
        await wait_until(lambda: len(socket.frames) == 1)
    assert socket.frames == [
        {"type": "quote", "seq": 1, "ts": "2024-01-01T00:00:00.000000Z", "data": data}
    ]
