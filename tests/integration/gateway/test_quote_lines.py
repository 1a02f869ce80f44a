"""IbkrBroker reads quotes from streaming lines: one message per symbol, not one per quote.

Against gateway-sim over the TWS protocol: a symbol's second quote sends nothing and still
follows the market; at most `max_quote_lines` lines stay open (the least recently read is
cancelled); the lines are opened again after a dropped connection; a symbol whose line
sends nothing (no market data: error 354) is answered by snapshots without a wait each time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.broker.ib.broker import IbkrBroker
from stocks_api.broker.ib.settings import IbSettings
from tests.conftest import eventually, make_settings, running_gateway
from tests.factories import set_market


@asynccontextmanager
async def connected(
    gateway: GatewaySim, client_id: int, **settings: Any
) -> AsyncIterator[tuple[IbkrBroker, Counter[str]]]:
    """An IbkrBroker on `gateway`, and a count of the market data requests it makes."""
    broker = IbkrBroker(
        IbSettings(port=gateway.port, client_id=client_id, connect_timeout_seconds=5, **settings),
        timeout=5,
    )
    calls: Counter[str] = Counter()
    ib: Any = broker._ib

    def counted(name: str) -> Callable[..., Any]:
        original = getattr(ib, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(*args, **kwargs)

        return call

    for name in ("reqMktData", "cancelMktData", "reqTickersAsync"):
        setattr(ib, name, counted(name))
    await broker.connect(lambda event: None)
    try:
        yield broker, calls
    finally:
        await broker.close()


def lines_at(gateway: GatewaySim) -> list[str]:
    """The symbols of the streaming lines gateway-sim serves, over all its clients."""
    return sorted(
        s for session in gateway._listener.sessions.values() for s in session.market_data.values()
    )


async def test_a_symbols_second_quote_sends_nothing_and_follows_the_market(
    gateway: GatewaySim,
) -> None:
    set_market(gateway.broker.engine, "100.00", "100.02", last="100.01")
    async with connected(gateway, 21) as (broker, calls):
        first = await broker.get_quote("AAPL")
        assert (first.bid, first.ask, first.last) == (
            Decimal("100"),
            Decimal("100.02"),
            Decimal("100.01"),
        )
        set_market(gateway.broker.engine, "101.00", "101.02", last="101.01")

        async def moved() -> bool:
            return (await broker.get_quote("AAPL")).bid == Decimal("101")

        await eventually(moved, seconds=5, what="the line's next tick")
        assert calls == Counter({"reqMktData": 1})  # one line, no snapshot, nothing else
        assert lines_at(gateway) == ["AAPL"]


async def test_at_most_max_lines_stay_open_the_least_recently_read_goes(
    gateway: GatewaySim,
) -> None:
    async with connected(gateway, 22, max_quote_lines=2) as (broker, calls):
        for symbol in ("AAPL", "MSFT", "AAPL", "IBM"):  # MSFT is the least recently read
            await broker.get_quote(symbol)
        assert calls == Counter({"reqMktData": 3, "cancelMktData": 1})

        async def two_lines() -> bool:
            return lines_at(gateway) == ["AAPL", "IBM"]

        await eventually(two_lines, seconds=5, what="MSFT's line cancelled at gateway-sim")


async def test_lines_are_opened_again_after_a_dropped_connection(gateway: GatewaySim) -> None:
    async with connected(gateway, 23) as (broker, calls):
        await broker.get_quote("AAPL")
        gateway.drop_connections()
        await eventually(lambda: not broker.is_connected, seconds=5, what="the drop noticed")
        await eventually(lambda: broker.is_connected, seconds=10, what="the reconnect")
        set_market(gateway.broker.engine, "102.00", "102.02", last="102.01")
        quote = await broker.get_quote("AAPL")
        assert quote.bid == Decimal("102")
        assert calls["reqMktData"] == 2
        assert lines_at(gateway) == ["AAPL"]


async def test_a_symbol_without_market_data_gets_snapshots_without_waiting_each_time() -> None:
    async with running_gateway(make_settings("sqlite+aiosqlite://")) as gateway:
        gateway.delayed_data = True  # no live subscription: a line gets error 354, no ticks
        async with connected(gateway, 24) as (broker, calls):
            await broker.get_quote("AAPL")  # the line gives up, then a snapshot
            started = time.monotonic()
            for _ in range(3):
                await broker.get_quote("AAPL")
            assert time.monotonic() - started < 1.5  # no 2-second wait for a line each time
            assert calls["reqMktData"] == 1
            assert calls["reqTickersAsync"] == 4
