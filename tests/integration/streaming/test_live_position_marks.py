"""Positions follow the same live quotes as the watchlist, valued by the API, throttled.

Issue 22 (item 3): a position's market price, value and unrealized P&L come from the quote
the `quotes:SYMBOL` channel carries, pushed as `position.updated`; a quantity a fill has
changed is never followed by an update with the old one. On both brokers.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from stocks_api.broker.sim.engine import MatchingEngine
from tests.conftest import engine_of
from tests.factories import place, set_market
from tests.integration.streaming.conftest import (
    Stream,
    authenticated,
    live_app,
    stream_settings,
)


def _quote_at(engine: MatchingEngine, last: str) -> None:
    price = Decimal(last)
    set_market(engine, str(price - Decimal("0.01")), str(price + Decimal("0.01")), last=last)


async def _position_at(stream: Stream, price: str) -> dict[str, Any]:
    def at_price(message: dict[str, Any]) -> bool:
        if message["type"] != "position.updated":
            return False
        mark = message["data"]["market_price"]
        return mark is not None and Decimal(mark) == Decimal(price)

    messages = await stream.until(
        at_price,
        "position.updated",
        "quote",
    )
    data: dict[str, Any] = messages[-1]["data"]
    return data


async def test_a_position_is_revalued_at_each_quote_the_watchlist_shows(
    clean_database: str, broker_kind: str
) -> None:
    settings = stream_settings(clean_database, quote_interval_seconds=0.05)
    async with live_app(settings, broker_kind) as (app, http, base):
        engine = engine_of(app)
        _quote_at(engine, "100.00")
        await place(http, qty="10")
        async with authenticated(base, app.state.test_key) as stream:
            await stream.subscribe("positions", "quotes:AAPL")
            for last in ("100.50", "99.75", "101.25"):
                _quote_at(engine, last)
                position = await _position_at(stream, last)
                quotes = [m["data"] for m in stream.received if m["type"] == "quote"]
                # The watchlist's quote came first, at the same price.
                assert Decimal(quotes[-1]["last"]) == Decimal(last)
                avg_cost = Decimal(position["avg_cost"])
                assert Decimal(position["market_value"]) == Decimal(last) * 10
                assert Decimal(position["unrealized_pnl"]) == (
                    (Decimal(last) - avg_cost) * 10
                ).quantize(Decimal("0.01"))
                rest = (await http.get("/api/v1/positions/AAPL")).json()
                assert set(position) == set(rest)
                assert position["qty"] == rest["qty"]
                assert position["updated_at"] == rest["updated_at"]


async def test_a_held_symbol_is_followed_without_a_watchlist_and_dropped_when_closed(
    clean_database: str, broker_kind: str
) -> None:
    settings = stream_settings(clean_database, quote_interval_seconds=0.05)
    async with live_app(settings, broker_kind) as (app, http, base):
        engine = engine_of(app)
        _quote_at(engine, "100.00")
        await place(http, qty="10")
        async with authenticated(base, app.state.test_key) as stream:
            await stream.subscribe("positions")  # no quotes channel: nobody's watchlist
            _quote_at(engine, "103.00")
            await _position_at(stream, "103")
            assert "AAPL" in app.state.quote_feed.watched
            await place(http, side="sell", qty="10")
            await stream.until(lambda m: m["data"]["qty"] == "0", "position.updated")
            closed = len(stream.received)
            for _ in range(100):
                if "AAPL" not in app.state.quote_feed.watched:
                    break
                await asyncio.sleep(0.02)
            assert app.state.quote_feed.watched == []
            _quote_at(engine, "104.00")
            await asyncio.sleep(0.3)
            await stream.send({"op": "ping"})
            await stream.next_of("pong")
            later = stream.received[closed:]
            assert not [m for m in later if m["type"] == "position.updated"]


async def test_fast_quotes_are_throttled_per_symbol_and_the_last_price_goes_out(
    clean_database: str,
) -> None:
    settings = stream_settings(
        clean_database, quote_interval_seconds=0.05, position_interval_seconds=0.5
    )
    async with live_app(settings) as (app, http, base):
        engine = engine_of(app)
        _quote_at(engine, "100.00")
        await place(http, qty="10")
        async with authenticated(base, app.state.test_key) as stream:
            await stream.subscribe("positions", "quotes:AAPL")
            await asyncio.sleep(0.6)  # the first mark has gone out
            start = len(stream.received)
            prices = [f"{100 + i * 0.1:.2f}" for i in range(1, 21)]
            for last in prices:
                _quote_at(engine, last)
                await asyncio.sleep(0.06)
            final = await _position_at(stream, prices[-1])
            window = stream.received[start:]
            quotes = [m for m in window if m["type"] == "quote"]
            marks = [m for m in window if m["type"] == "position.updated"]
            assert len(quotes) >= 15  # the watchlist saw (nearly) every quote
            # One update per 0.5 s at most (of 20 quotes), and the held last price was sent.
            sent = [datetime.fromisoformat(m["ts"]) for m in marks]
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent)]
            assert 2 <= len(marks) <= 5, gaps
            assert min(gaps) >= 0.45, gaps
            assert Decimal(final["market_price"]) == Decimal(prices[-1])


async def test_after_a_fill_no_update_carries_the_old_quantity(
    clean_database: str, broker_kind: str
) -> None:
    settings = stream_settings(clean_database, quote_interval_seconds=0.05)
    async with live_app(settings, broker_kind) as (app, http, base):
        engine = engine_of(app)
        _quote_at(engine, "100.00")
        await place(http, qty="10")
        async with authenticated(base, app.state.test_key) as stream:
            await stream.subscribe("positions", "quotes:AAPL")
            for step in range(1, 6):
                _quote_at(engine, f"{100 + step:.2f}")
                await place(http, qty="5")
                await asyncio.sleep(0.1)
            _quote_at(engine, "110.00")
            await _position_at(stream, "110")
            updates = [m["data"] for m in stream.received if m["type"] == "position.updated"]
            qtys = [Decimal(data["qty"]) for data in updates]
            assert qtys == sorted(qtys), qtys  # a quantity once shown is never taken back
            assert qtys[-1] == 35


async def test_held_symbols_are_followed_only_while_someone_listens(clean_database: str) -> None:
    settings = stream_settings(clean_database, quote_interval_seconds=0.05)
    async with live_app(settings) as (app, http, base):
        engine = engine_of(app)
        _quote_at(engine, "100.00")
        await place(http, qty="10")
        feed = app.state.quote_feed

        async def watched(expected: list[str]) -> None:
            for _ in range(150):  # the marks look every second
                if feed.watched == expected:
                    return
                await asyncio.sleep(0.02)
            assert feed.watched == expected

        # Nobody connected: no quote requests for the position (IB paces every message).
        await watched([])
        async with authenticated(base, app.state.test_key) as stream:
            await stream.subscribe("positions")
            await watched(["AAPL"])
            _quote_at(engine, "101.00")
            await _position_at(stream, "101")
        await watched([])
