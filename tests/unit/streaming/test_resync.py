"""Lost events are never silent: a full bus queue leaves a gap marker, and clients get `resync`."""

from __future__ import annotations

from stocks_api.events.bus import GAP_TOPIC, Fanout, InProcessEventBus
from stocks_api.streaming.hub import StreamHub
from tests.unit.streaming.support import Socket, flush, make_client, running, sample, wait_until


class _NoQuotes:
    def watch(self, symbol: str) -> None: ...

    def unwatch(self, symbol: str) -> None: ...


async def test_a_resync_skips_one_seq_and_repeats_only_once_it_was_sent() -> None:
    socket = Socket(blocked=True)
    client = make_client(socket)
    async with running(client):
        client.offer("order.updated", "ts", '{"n":1}')
        await wait_until(lambda: socket.sends_started == 1)  # held inside the first send
        client.offer_resync("the event bus reconnected")
        client.offer_resync("again")  # still unsent: no second one
        client.offer("order.updated", "ts", '{"n":2}')
        socket.gate.set()
        await flush(client, socket)
        client.offer_resync("later")  # the first was sent: a new one goes out
        await flush(client, socket, marker="end")

    assert socket.types == [
        "order.updated",
        "resync",
        "order.updated",
        "marker",
        "resync",
        "end",
    ]
    assert socket.seqs == [1, 3, 4, 5, 7, 8]
    assert socket.frames[1]["data"] == {"reason": "the event bus reconnected"}


def test_a_full_queue_drops_its_oldest_events_and_marks_the_gap() -> None:
    fanout = Fanout(queue_size=10)
    queue = fanout.subscribe()
    dropped = sample("events_dropped_total")
    for n in range(12):
        fanout.deliver("order.updated", {"n": n})
    events = [queue.get_nowait() for _ in range(queue.qsize())]
    topics = [topic for topic, _ in events]
    assert GAP_TOPIC in topics
    kept = [data["n"] for topic, data in events if topic != GAP_TOPIC]
    assert kept == sorted(kept)
    assert kept[-1] == 11  # the newest is never the one dropped
    assert sample("events_dropped_total") - dropped == 12 - len(kept)


def test_a_tiny_queue_still_takes_the_newest_event() -> None:
    fanout = Fanout(queue_size=1)
    queue = fanout.subscribe()
    fanout.deliver("order.updated", {"n": 1})
    fanout.deliver("order.updated", {"n": 2})
    assert queue.get_nowait() == ("order.updated", {"n": 2})


async def test_the_hub_turns_a_gap_into_a_resync_for_every_client() -> None:
    bus = InProcessEventBus()
    hub = StreamHub(bus, _NoQuotes())
    sockets = [Socket(), Socket()]
    clients = [make_client(socket) for socket in sockets]
    async with running(clients[0]), running(clients[1]):
        for client in clients:
            hub.connect(client)
        hub.subscribe(clients[0], ("orders",))  # subscriptions do not matter for a gap
        await bus.publish(GAP_TOPIC, {"reason": "events were dropped: far behind"})
        for socket in sockets:
            await wait_until(lambda s=socket: "resync" in s.types)  # type: ignore[misc]
            assert socket.frames[0]["data"] == {"reason": "events were dropped: far behind"}
            assert socket.frames[0]["seq"] == 2
        for client in clients:
            await hub.disconnect(client)
