"""The hub: routing by channel, subscriptions, quote watching, the bus only while needed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stocks_api.events.bus import InProcessEventBus
from stocks_api.streaming.client import ClientStream
from stocks_api.streaming.hub import StreamHub
from tests.unit.streaming.support import Socket, flush, make_client, running, sample, wait_until


class Watcher:
    """A fake quote feed: records watch and unwatch calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def watch(self, symbol: str) -> None:
        self.calls.append(("watch", symbol))

    def unwatch(self, symbol: str) -> None:
        self.calls.append(("unwatch", symbol))

    @property
    def watching(self) -> dict[str, int]:
        """Net watches per symbol (zeros left out)."""
        counts: dict[str, int] = {}
        for call, symbol in self.calls:
            counts[symbol] = counts.get(symbol, 0) + (1 if call == "watch" else -1)
        return {symbol: n for symbol, n in counts.items() if n}


@pytest.fixture
def bus() -> InProcessEventBus:
    return InProcessEventBus()


@pytest.fixture
def watcher() -> Watcher:
    return Watcher()


@pytest.fixture
async def hub(bus: InProcessEventBus, watcher: Watcher) -> AsyncIterator[StreamHub]:
    hub = StreamHub(bus, watcher)
    yield hub
    await hub.close()


def clients_gauge() -> float:
    return sample("websocket_clients")


def new_client() -> tuple[ClientStream, Socket]:
    socket = Socket()
    return make_client(socket), socket


# -- routing --------------------------------------------------------------------------------


async def test_route_delivers_only_to_the_subscribers_of_the_channel(hub: StreamHub) -> None:
    orders, orders_socket = new_client()
    fills, fills_socket = new_client()
    both, both_socket = new_client()
    for client in (orders, fills, both):
        hub.connect(client)
    hub.subscribe(orders, ("orders",))
    hub.subscribe(fills, ("fills",))
    hub.subscribe(both, ("orders", "fills"))

    hub.route("order.updated", {"id": 1})
    hub.route("fill.created", {"id": 2})
    hub.route("position.updated", {"id": 3})  # nobody follows positions

    for client, socket in ((orders, orders_socket), (fills, fills_socket), (both, both_socket)):
        async with running(client):
            await flush(client, socket)
    assert orders_socket.frames[0]["type"] == "order.updated"
    assert orders_socket.frames[0]["data"] == {"id": 1}
    assert orders_socket.types == ["order.updated", "marker"]
    assert fills_socket.types == ["fill.created", "marker"]
    assert both_socket.types == ["order.updated", "fill.created", "marker"]
    assert both_socket.seqs == [1, 2, 3]


@pytest.mark.parametrize(
    ("topic", "channel"),
    [
        ("order.updated", "orders"),
        ("fill.created", "fills"),
        ("position.updated", "positions"),
        ("account.updated", "account"),
        ("risk.state", "risk"),
    ],
)
async def test_each_topic_reaches_its_channel(hub: StreamHub, topic: str, channel: str) -> None:
    client, socket = new_client()
    hub.connect(client)
    hub.subscribe(client, (channel,))
    hub.route(topic, {"topic": topic})
    async with running(client):
        await flush(client, socket)
    assert socket.frames[0]["type"] == topic
    assert socket.frames[0]["data"] == {"topic": topic}


async def test_unknown_topics_reach_nobody(hub: StreamHub) -> None:
    client, socket = new_client()
    hub.connect(client)
    hub.subscribe(client, ("orders", "fills", "positions", "account", "risk", "quotes:AAPL"))
    hub.route("order.created", {"id": 1})
    hub.route("quote", {"bid": "1"})  # a quote without a symbol
    hub.route("quote", {"symbol": "MSFT"})
    async with running(client):
        await flush(client, socket)
    assert socket.types == ["marker"]


async def test_one_event_is_encoded_once_for_all_clients(hub: StreamHub) -> None:
    pairs = [new_client() for _ in range(3)]
    for client, _ in pairs:
        hub.connect(client)
        hub.subscribe(client, ("risk",))
    hub.route("risk.state", {"state": "halted"})
    frames = []
    for client, socket in pairs:
        async with running(client):
            await wait_until(lambda s=socket: len(s.frames) == 1)
        frames.append(socket.frames[0])
    assert frames[0] == frames[1] == frames[2]
    assert frames[0]["data"] == {"state": "halted"}


async def test_quotes_route_to_the_quote_channel_of_their_symbol(hub: StreamHub) -> None:
    aapl, aapl_socket = new_client()
    msft, msft_socket = new_client()
    hub.connect(aapl)
    hub.connect(msft)
    hub.subscribe(aapl, ("quotes:AAPL",))
    hub.subscribe(msft, ("quotes:MSFT",))
    hub.route("quote", {"symbol": "AAPL", "last": "1"})
    hub.route("quote", {"symbol": "MSFT", "last": "2"})
    for client, socket in ((aapl, aapl_socket), (msft, msft_socket)):
        async with running(client):
            await flush(client, socket)
    assert aapl_socket.types == ["quote", "marker"]
    assert aapl_socket.frames[0]["data"] == {"symbol": "AAPL", "last": "1"}
    assert msft_socket.frames[0]["data"] == {"symbol": "MSFT", "last": "2"}


async def test_quotes_are_offered_as_quotes_and_so_coalesced(hub: StreamHub) -> None:
    client, socket = new_client()
    hub.connect(client)
    hub.subscribe(client, ("quotes:AAPL",))
    for i in range(50):
        hub.route("quote", {"symbol": "AAPL", "last": str(i)})
    assert not client.too_slow
    async with running(client):
        await flush(client, socket)
    assert socket.types == ["quote", "marker"]
    assert socket.frames[0]["data"]["last"] == "49"


# -- subscriptions -----------------------------------------------------------------------------


async def test_subscribing_twice_is_idempotent(hub: StreamHub, watcher: Watcher) -> None:
    client, socket = new_client()
    hub.connect(client)
    hub.subscribe(client, ("orders", "quotes:AAPL"))
    hub.subscribe(client, ("quotes:AAPL", "orders"))
    hub.subscribe(client, ("quotes:AAPL",))
    assert client.channels == {"orders", "quotes:AAPL"}
    assert watcher.calls == [("watch", "AAPL")]
    hub.route("order.updated", {"id": 1})
    async with running(client):
        await flush(client, socket)
    assert socket.types == ["order.updated", "marker"]  # routed once, not once per subscribe


async def test_each_client_watches_a_symbol_once(hub: StreamHub, watcher: Watcher) -> None:
    first, _ = new_client()
    second, _ = new_client()
    hub.connect(first)
    hub.connect(second)
    hub.subscribe(first, ("quotes:AAPL",))
    hub.subscribe(second, ("quotes:AAPL", "quotes:MSFT"))
    assert watcher.calls == [("watch", "AAPL"), ("watch", "AAPL"), ("watch", "MSFT")]
    hub.unsubscribe(first, ("quotes:AAPL",))
    assert watcher.watching == {"AAPL": 1, "MSFT": 1}


async def test_fixed_channels_watch_no_quotes(hub: StreamHub, watcher: Watcher) -> None:
    client, _ = new_client()
    hub.connect(client)
    hub.subscribe(client, ("orders", "fills", "positions", "account", "risk"))
    hub.unsubscribe(client, ("orders", "risk"))
    assert watcher.calls == []


async def test_unsubscribe_stops_delivery(hub: StreamHub) -> None:
    client, socket = new_client()
    hub.connect(client)
    hub.subscribe(client, ("orders", "fills"))
    hub.unsubscribe(client, ("orders",))
    assert client.channels == {"fills"}
    hub.route("order.updated", {"id": 1})
    hub.route("fill.created", {"id": 2})
    async with running(client):
        await flush(client, socket)
    assert socket.types == ["fill.created", "marker"]


async def test_unsubscribing_channels_never_subscribed_is_ignored(
    hub: StreamHub, watcher: Watcher
) -> None:
    client, socket = new_client()
    other, _ = new_client()
    hub.connect(client)
    hub.connect(other)
    hub.subscribe(client, ("orders",))
    hub.subscribe(other, ("quotes:AAPL", "fills"))
    hub.unsubscribe(client, ("fills", "quotes:AAPL", "quotes:MSFT", "risk"))
    assert client.channels == {"orders"}
    assert watcher.calls == [("watch", "AAPL")]  # no unwatch of another client's symbol
    hub.unsubscribe(client, ("orders",))
    hub.unsubscribe(client, ("orders",))  # twice
    assert client.channels == set()
    assert other.channels == {"quotes:AAPL", "fills"}
    hub.route("fill.created", {"id": 1})
    async with running(client):
        await flush(client, socket)
    assert socket.types == ["marker"]


async def test_unsubscribing_a_quote_channel_unwatches_and_drops_its_pending_quote(
    hub: StreamHub, watcher: Watcher
) -> None:
    client, socket = new_client()
    hub.connect(client)
    hub.subscribe(client, ("quotes:AAPL", "quotes:MSFT"))
    hub.route("quote", {"symbol": "AAPL", "last": "1"})
    hub.route("quote", {"symbol": "MSFT", "last": "2"})
    hub.unsubscribe(client, ("quotes:AAPL",))
    assert watcher.calls[-1] == ("unwatch", "AAPL")
    assert watcher.watching == {"MSFT": 1}
    async with running(client):
        await flush(client, socket)
    assert socket.types == ["quote", "marker"]
    assert socket.frames[0]["data"]["symbol"] == "MSFT"


async def test_resubscribing_a_quote_channel_sends_the_same_quote_again(hub: StreamHub) -> None:
    client, socket = new_client()
    hub.connect(client)
    async with running(client):
        hub.subscribe(client, ("quotes:AAPL",))
        hub.route("quote", {"symbol": "AAPL", "last": "1"})
        await wait_until(lambda: len(socket.frames) == 1)
        hub.unsubscribe(client, ("quotes:AAPL",))
        hub.subscribe(client, ("quotes:AAPL",))
        hub.route("quote", {"symbol": "AAPL", "last": "1"})
        await flush(client, socket)
    assert socket.types == ["quote", "quote", "marker"]


# -- connect and disconnect -----------------------------------------------------------------


async def test_disconnect_removes_every_route_and_unwatches_its_symbols(
    hub: StreamHub, watcher: Watcher
) -> None:
    client, socket = new_client()
    stays, stays_socket = new_client()
    hub.connect(client)
    hub.connect(stays)
    hub.subscribe(client, ("orders", "quotes:AAPL", "quotes:MSFT"))
    hub.subscribe(stays, ("orders", "quotes:AAPL"))
    await hub.disconnect(client)
    assert client.channels == set()
    assert watcher.watching == {"AAPL": 1}
    assert sorted(c for c in watcher.calls if c[0] == "unwatch") == [
        ("unwatch", "AAPL"),
        ("unwatch", "MSFT"),
    ]
    assert hub.client_count == 1

    hub.route("order.updated", {"id": 1})
    hub.route("quote", {"symbol": "AAPL", "last": "1"})
    hub.route("quote", {"symbol": "MSFT", "last": "1"})
    for c, s in ((client, socket), (stays, stays_socket)):
        async with running(c):
            await flush(c, s)
    assert socket.types == ["marker"]
    assert stays_socket.types == ["order.updated", "quote", "marker"]


async def test_the_hub_listens_to_the_bus_only_while_it_has_clients(
    hub: StreamHub, bus: InProcessEventBus
) -> None:
    first, _ = new_client()
    second, _ = new_client()
    assert not bus.has_subscribers()
    hub.connect(first)
    assert bus.has_subscribers()
    hub.connect(second)
    await hub.disconnect(first)
    assert bus.has_subscribers()
    await hub.disconnect(second)
    assert not bus.has_subscribers()
    assert hub.client_count == 0
    hub.connect(first)  # and again after the last one left
    assert bus.has_subscribers()
    await hub.disconnect(first)
    assert not bus.has_subscribers()


async def test_connecting_the_same_client_twice_counts_it_once(hub: StreamHub) -> None:
    client, _ = new_client()
    hub.connect(client)
    hub.connect(client)
    assert hub.client_count == 1
    assert clients_gauge() == 1
    await hub.disconnect(client)
    assert hub.client_count == 0


async def test_the_clients_gauge_follows_the_count(hub: StreamHub) -> None:
    clients = [new_client()[0] for _ in range(3)]
    assert hub.client_count == 0
    for n, client in enumerate(clients, start=1):
        hub.connect(client)
        assert hub.client_count == n
        assert clients_gauge() == n
    for n, client in enumerate(clients, start=1):
        await hub.disconnect(client)
        assert hub.client_count == len(clients) - n
        assert clients_gauge() == len(clients) - n


async def test_close_stops_listening_but_a_new_client_resumes(
    hub: StreamHub, bus: InProcessEventBus
) -> None:
    client, socket = new_client()
    hub.connect(client)
    hub.subscribe(client, ("orders",))
    await hub.close()
    assert not bus.has_subscribers()
    await hub.close()  # twice is harmless
    other, _ = new_client()
    hub.connect(other)
    assert bus.has_subscribers()
    async with running(client):
        await bus.publish("order.updated", {"id": 1})
        await wait_until(lambda: len(socket.frames) == 1)
    assert socket.frames[0]["data"] == {"id": 1}


# -- from the bus to the socket -------------------------------------------------------------


async def test_events_published_on_the_bus_reach_the_clients_socket(
    hub: StreamHub, bus: InProcessEventBus
) -> None:
    client, socket = new_client()
    hub.connect(client)
    hub.subscribe(client, ("orders", "quotes:AAPL"))
    async with running(client):
        await bus.publish("order.updated", {"id": 1, "status": "filled"})
        await bus.publish("fill.created", {"id": 9})  # not subscribed
        await bus.publish("quote", {"symbol": "AAPL", "bid": "189.5"})
        await wait_until(lambda: len(socket.frames) == 2)
        await flush(client, socket)
    assert socket.types == ["order.updated", "quote", "marker"]
    assert socket.frames[0]["data"] == {"id": 1, "status": "filled"}
    assert socket.frames[1]["data"] == {"symbol": "AAPL", "bid": "189.5"}
    assert socket.seqs == [1, 2, 3]
    assert all(f["ts"].endswith("Z") for f in socket.frames[:2])


async def test_a_bad_event_does_not_stop_the_hub(hub: StreamHub, bus: InProcessEventBus) -> None:
    client, socket = new_client()
    hub.connect(client)
    hub.subscribe(client, ("orders",))
    async with running(client):
        await bus.publish("quote", "not a mapping")  # type: ignore[arg-type]
        await bus.publish("order.updated", {"id": 1})
        await wait_until(lambda: len(socket.frames) == 1)
    assert socket.frames[0]["data"] == {"id": 1}


async def test_a_too_slow_client_does_not_hold_up_the_others(hub: StreamHub) -> None:
    slow_socket = Socket(blocked=True)
    slow = make_client(slow_socket, queue_size=2)
    fast, fast_socket = new_client()
    for client in (slow, fast):
        hub.connect(client)
        hub.subscribe(client, ("orders",))
    async with running(slow), running(fast):
        for i in range(10):
            hub.route("order.updated", {"id": i})
        await wait_until(lambda: len(fast_socket.frames) == 10)
    assert slow.too_slow
    assert [f["data"]["id"] for f in fast_socket.frames] == list(range(10))
