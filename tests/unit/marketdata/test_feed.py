"""The quote feed: polls watched symbols, publishes changed quotes, keeps going on errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from stocks_api.broker.protocol import BrokerRejectedError, BrokerUnavailableError, Quote
from stocks_api.core.errors import AppError
from stocks_api.marketdata.feed import QuoteFeed

INTERVAL = 0.01
WAIT = 1.0
T0 = datetime(2024, 3, 4, 15, 30, tzinfo=UTC)


def make_quote(symbol: str, last: str = "189.50", **fields: Any) -> Quote:
    values: dict[str, Any] = {
        "symbol": symbol,
        "bid": Decimal("189.49"),
        "ask": Decimal("189.510"),
        "last": Decimal(last),
        "bid_size": Decimal("100"),
        "ask_size": Decimal("2E+2"),
        "volume": Decimal("1234567.000"),
        "ts": T0,
    }
    return Quote(**(values | fields))


class Broker:
    """A fake broker that answers quotes from a table; other symbols fail."""

    def __init__(self) -> None:
        self.is_connected = True
        self.quotes: dict[str, Quote] = {}
        self.errors: dict[str, BaseException] = {}
        self.hangs: set[str] = set()
        self.polls: dict[str, int] = {}

    async def get_quote(self, symbol: str) -> Quote:
        self.polls[symbol] = self.polls.get(symbol, 0) + 1
        if symbol in self.hangs:
            await asyncio.Event().wait()
        if symbol in self.errors:
            raise self.errors[symbol]
        return self.quotes[symbol]

    def polled(self, symbol: str) -> int:
        return self.polls.get(symbol, 0)


class Bus:
    """A fake bus that records what is published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        self.published.append((topic, data))

    def has_subscribers(self) -> bool:
        return True

    def of(self, symbol: str) -> list[dict[str, Any]]:
        return [data for topic, data in self.published if data["symbol"] == symbol]


async def wait_until(condition: Callable[[], object], timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not so within {timeout} s")
        await asyncio.sleep(0.002)


async def polled_again(broker: Broker, symbol: str, times: int = 3) -> None:
    """Wait until the feed asked for `symbol` `times` more times."""
    target = broker.polled(symbol) + times
    await wait_until(lambda: broker.polled(symbol) >= target)


def subscriptions_gauge() -> float | None:
    return REGISTRY.get_sample_value("marketdata_subscriptions")


@pytest.fixture
def broker() -> Broker:
    return Broker()


@pytest.fixture
def bus() -> Bus:
    return Bus()


@pytest.fixture
async def feed(broker: Broker, bus: Bus) -> AsyncIterator[QuoteFeed]:
    feed = QuoteFeed(broker=broker, bus=bus, interval=INTERVAL, timeout=0.05)  # type: ignore[arg-type]
    yield feed
    await feed.close()


AAPL_JSON = {
    "symbol": "AAPL",
    "bid": "189.49",
    "ask": "189.51",
    "last": "189.5",
    "bid_size": "100",
    "ask_size": "200",
    "volume": "1234567",
    "ts": "2024-03-04T15:30:00Z",
}


async def test_nothing_is_polled_before_a_watch(broker: Broker, bus: Bus) -> None:
    feed = QuoteFeed(broker=broker, bus=bus, interval=INTERVAL, timeout=0.05)  # type: ignore[arg-type]
    await asyncio.sleep(5 * INTERVAL)
    assert broker.polls == {}
    assert bus.published == []
    await feed.close()  # closing a feed that never ran is harmless


async def test_a_disconnected_broker_is_not_polled_until_it_connects(
    feed: QuoteFeed, broker: Broker, bus: Bus
) -> None:
    broker.is_connected = False  # a read-only instance's broker, or a dropped IB link
    broker.errors["AAPL"] = BrokerUnavailableError("not connected")
    feed.watch("AAPL")
    await asyncio.sleep(10 * INTERVAL)
    assert broker.polls == {}  # so nothing failed, and nothing was logged
    del broker.errors["AAPL"]
    broker.quotes["AAPL"] = make_quote("AAPL")
    broker.is_connected = True
    await wait_until(lambda: bus.published)
    assert bus.published == [("quote", AAPL_JSON)]


async def test_a_watched_quote_is_published_as_json_with_string_decimals(
    feed: QuoteFeed, broker: Broker, bus: Bus
) -> None:
    broker.quotes["AAPL"] = make_quote("AAPL")
    feed.watch("AAPL")
    await wait_until(lambda: bus.published)
    assert bus.published == [("quote", AAPL_JSON)]
    assert all(isinstance(value, str) for value in bus.published[0][1].values())


async def test_an_unchanged_quote_is_not_published_again(
    feed: QuoteFeed, broker: Broker, bus: Bus
) -> None:
    broker.quotes["AAPL"] = make_quote("AAPL")
    feed.watch("AAPL")
    await wait_until(lambda: bus.published)
    await polled_again(broker, "AAPL")
    assert len(bus.published) == 1
    broker.quotes["AAPL"] = make_quote("AAPL", last="189.500")  # equal once normalised
    await polled_again(broker, "AAPL")
    assert len(bus.published) == 1


async def test_a_changed_quote_is_published_once(feed: QuoteFeed, broker: Broker, bus: Bus) -> None:
    broker.quotes["AAPL"] = make_quote("AAPL")
    feed.watch("AAPL")
    await wait_until(lambda: bus.published)
    broker.quotes["AAPL"] = make_quote("AAPL", last="190.25")
    await wait_until(lambda: len(bus.published) == 2)
    await polled_again(broker, "AAPL")
    assert [data["last"] for _, data in bus.published] == ["189.5", "190.25"]
    broker.quotes["AAPL"] = make_quote("AAPL", ts=datetime(2024, 3, 4, 15, 31, tzinfo=UTC))
    await wait_until(lambda: len(bus.published) == 3)
    assert bus.published[2][1]["ts"] == "2024-03-04T15:31:00Z"


async def test_every_watched_symbol_is_polled(feed: QuoteFeed, broker: Broker, bus: Bus) -> None:
    for symbol in ("AAPL", "MSFT", "SPY"):
        broker.quotes[symbol] = make_quote(symbol)
        feed.watch(symbol)
    await wait_until(lambda: len(bus.published) == 3)
    assert sorted(data["symbol"] for _, data in bus.published) == ["AAPL", "MSFT", "SPY"]
    assert feed.watched == ["AAPL", "MSFT", "SPY"]


async def test_unwatching_to_zero_stops_publishing_that_symbol(
    feed: QuoteFeed, broker: Broker, bus: Bus
) -> None:
    broker.quotes["AAPL"] = make_quote("AAPL")
    broker.quotes["MSFT"] = make_quote("MSFT")
    feed.watch("AAPL")
    feed.watch("MSFT")
    await wait_until(lambda: len(bus.published) == 2)
    feed.unwatch("AAPL")
    assert feed.watched == ["MSFT"]
    broker.quotes["AAPL"] = make_quote("AAPL", last="1")
    broker.quotes["MSFT"] = make_quote("MSFT", last="2")
    await wait_until(lambda: len(bus.of("MSFT")) == 2)
    aapl_polls = broker.polled("AAPL")
    await polled_again(broker, "MSFT")
    assert len(bus.of("AAPL")) == 1
    assert broker.polled("AAPL") <= aapl_polls + 1  # at most a poll already under way


async def test_watches_are_counted(feed: QuoteFeed, broker: Broker, bus: Bus) -> None:
    broker.quotes["AAPL"] = make_quote("AAPL")
    feed.watch("AAPL")
    feed.watch("AAPL")
    feed.unwatch("AAPL")
    assert feed.watched == ["AAPL"]
    await wait_until(lambda: bus.published)
    broker.quotes["AAPL"] = make_quote("AAPL", last="1")
    await wait_until(lambda: len(bus.published) == 2)
    feed.unwatch("AAPL")
    assert feed.watched == []


async def test_watching_again_publishes_the_current_quote_again(
    feed: QuoteFeed, broker: Broker, bus: Bus
) -> None:
    broker.quotes["AAPL"] = make_quote("AAPL")
    feed.watch("AAPL")
    await wait_until(lambda: len(bus.published) == 1)
    feed.unwatch("AAPL")
    feed.watch("AAPL")
    await wait_until(lambda: len(bus.published) == 2)
    assert bus.published[0] == bus.published[1]


@pytest.mark.parametrize(
    "error",
    [
        BrokerUnavailableError("down"),
        BrokerRejectedError("unknown symbol"),
        KeyError("surprise"),
        RuntimeError("bug"),
    ],
    ids=["unavailable", "rejected", "key-error", "runtime-error"],
)
async def test_a_failing_symbol_does_not_stop_the_others(
    feed: QuoteFeed, broker: Broker, bus: Bus, error: Exception
) -> None:
    broker.errors["BAD"] = error
    broker.quotes["AAPL"] = make_quote("AAPL")
    feed.watch("BAD")
    feed.watch("AAPL")
    await wait_until(lambda: len(bus.published) == 1)
    broker.quotes["AAPL"] = make_quote("AAPL", last="1")
    await wait_until(lambda: len(bus.published) == 2)
    assert broker.polled("BAD") >= 2  # and it is still tried
    assert bus.of("BAD") == []
    del broker.errors["BAD"]
    broker.quotes["BAD"] = make_quote("BAD")
    await wait_until(lambda: len(bus.of("BAD")) == 1)


async def test_a_symbol_whose_quote_never_comes_is_timed_out(
    feed: QuoteFeed, broker: Broker, bus: Bus
) -> None:
    broker.hangs.add("SLOW")
    broker.quotes["AAPL"] = make_quote("AAPL")
    feed.watch("SLOW")
    feed.watch("AAPL")
    await wait_until(lambda: len(bus.published) == 1)
    broker.quotes["AAPL"] = make_quote("AAPL", last="1")
    await wait_until(lambda: len(bus.published) == 2)
    assert broker.polled("SLOW") >= 2


async def test_the_gauge_counts_the_watched_symbols(feed: QuoteFeed, broker: Broker) -> None:
    for symbol in ("AAPL", "MSFT"):
        broker.quotes[symbol] = make_quote(symbol)
    feed.watch("AAPL")
    assert subscriptions_gauge() == 1
    feed.watch("AAPL")
    assert subscriptions_gauge() == 1
    feed.watch("MSFT")
    assert subscriptions_gauge() == 2
    feed.unwatch("AAPL")
    assert subscriptions_gauge() == 2
    feed.unwatch("AAPL")
    assert subscriptions_gauge() == 1
    feed.unwatch("MSFT")
    assert subscriptions_gauge() == 0
    assert feed.watched == []


async def test_unwatching_a_symbol_never_watched_is_harmless(feed: QuoteFeed) -> None:
    feed.unwatch("NOPE")
    assert feed.watched == []
    assert subscriptions_gauge() == 0


async def test_close_stops_polling(feed: QuoteFeed, broker: Broker, bus: Bus) -> None:
    broker.quotes["AAPL"] = make_quote("AAPL")
    feed.watch("AAPL")
    await wait_until(lambda: bus.published)
    await feed.close()
    polls = broker.polled("AAPL")
    broker.quotes["AAPL"] = make_quote("AAPL", last="1")
    await asyncio.sleep(10 * INTERVAL)
    assert broker.polled("AAPL") == polls
    assert len(bus.published) == 1
    await feed.close()  # twice is harmless


async def test_a_watch_after_close_polls_again(feed: QuoteFeed, broker: Broker, bus: Bus) -> None:
    broker.quotes["AAPL"] = make_quote("AAPL")
    feed.watch("AAPL")
    await wait_until(lambda: bus.published)
    await feed.close()
    broker.quotes["MSFT"] = make_quote("MSFT")
    feed.watch("MSFT")
    await wait_until(lambda: bus.of("MSFT"))


async def test_snapshot_returns_the_quote_resource(feed: QuoteFeed, broker: Broker) -> None:
    broker.quotes["AAPL"] = make_quote("AAPL")
    assert await feed.snapshot("AAPL") == AAPL_JSON


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BrokerUnavailableError("down"), "BROKER_UNAVAILABLE"),
        (BrokerRejectedError("unknown"), "BROKER_REJECTED"),
    ],
)
async def test_snapshot_turns_broker_errors_into_app_errors(
    feed: QuoteFeed, broker: Broker, error: Exception, code: str
) -> None:
    broker.errors["AAPL"] = error
    with pytest.raises(AppError) as caught:
        await feed.snapshot("AAPL")
    assert caught.value.code == code


async def test_snapshot_times_out(feed: QuoteFeed, broker: Broker) -> None:
    broker.hangs.add("AAPL")
    with pytest.raises(AppError) as caught:
        await feed.snapshot("AAPL")
    assert caught.value.code == "BROKER_TIMEOUT"
