"""Positions through the API: shorts, flips, closing, history, metrics."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.portfolio.settings import PortfolioSettings
from tests.conftest import api_client, engine_of, make_key, make_settings, running_app
from tests.factories import place, set_market


async def _position(client: httpx.AsyncClient, symbol: str = "AAPL") -> dict[str, Any]:
    response = await client.get(f"/api/v1/positions/{symbol}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_a_margin_account_sells_short_and_flips(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    set_market(engine, "100.00", "100.01", last="100.00")
    await place(client, side="sell", qty="30")
    await settle()
    short = await _position(client)
    # sold 30 at the bid 100.00 for 1.00: (3000.00 - 1.00) / 30, kept as 99.9666666667 and
    # shown to 4 places
    assert Decimal(short["qty"]) == -30
    assert short["avg_cost"] == "99.9667"

    set_market(engine, "98.99", "99.00", last="99.00")
    await place(client, side="buy", qty="50")
    await settle()
    flipped = await _position(client)
    # closing 30 carries 30/50 of the 1.00: 30 x (99.9666666667 - 99.00) - 0.60 = 28.4000000010,
    # from the stored average, shown to cents
    assert flipped["realized_pnl"] == "28.40"
    # opening 20 long carries 0.40: (20 x 99.00 + 0.40) / 20 = 99.02
    assert Decimal(flipped["qty"]) == 20
    assert flipped["avg_cost"] == "99.0200"


async def test_closing_a_position_sends_a_market_order_through_the_order_path(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    await place(client, qty="25")
    await settle()

    response = await client.delete("/api/v1/positions/aapl")
    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["side"], order["type"], order["qty"]) == ("sell", "market", "25")
    assert order["status"] == "filled"
    await settle()
    flat = await _position(client)
    assert Decimal(flat["qty"]) == 0
    assert flat["opened_at"] is None
    assert (await client.get("/api/v1/positions")).json() == []
    closed = (await client.get("/api/v1/positions", params={"include_closed": "true"})).json()
    assert [p["symbol"] for p in closed] == ["AAPL"]

    again = await client.delete("/api/v1/positions/AAPL")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "POSITION_NOT_FOUND"


async def test_a_symbol_never_held_is_a_404(client: httpx.AsyncClient) -> None:
    for method in ("GET", "DELETE"):
        response = await client.request(method, "/api/v1/positions/MSFT")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "POSITION_NOT_FOUND"
    bad = await client.get("/api/v1/positions/not-a-symbol!")
    assert bad.status_code == 422


async def test_every_fill_leaves_a_position_snapshot(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    await place(client, qty="10")
    await place(client, qty="5")
    set_market(engine, "189.99", "190.00", last="190.00", symbol="MSFT")
    await place(client, symbol="MSFT", qty="3")
    await settle()

    page = (await client.get("/api/v1/positions/history", params={"symbol": "aapl"})).json()
    fills = [item for item in page["items"] if item["reason"] == "fill"]
    assert [Decimal(item["qty"]) for item in fills] == [15, 10]  # newest first
    assert all(item["symbol"] == "AAPL" for item in page["items"])

    first = (await client.get("/api/v1/positions/history", params={"limit": 1})).json()
    assert len(first["items"]) == 1
    assert first["next_cursor"]
    rest = (
        await client.get("/api/v1/positions/history", params={"cursor": first["next_cursor"]})
    ).json()
    assert first["items"][0]["id"] not in {item["id"] for item in rest["items"]}

    later = (
        await client.get("/api/v1/positions/history", params={"since": "2999-01-01T00:00:00"})
    ).json()
    assert later["items"] == []
    bad = await client.get("/api/v1/positions/history", params={"cursor": "garbage"})
    assert bad.status_code == 422


async def test_portfolio_metrics_are_exported(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    await place(client, qty="100")
    set_market(engine, "191.00", "191.01", last="191.00")
    await settle()
    # The background pass would race this one and could set the gauges at the old price.
    await app.state.snapshots.stop()
    await app.state.snapshots.record(None)

    text = (await client.get("/metrics")).text
    assert "active_positions 1.0" in text
    # 100 x (191.00 - 190.01)
    assert 'pnl_unrealized{account="DU1234567"} 99.0' in text
    assert 'pnl_realized{account="DU1234567"} 0.0' in text


async def test_open_positions_are_snapshotted_on_the_interval(
    clean_database: str, broker_kind: str
) -> None:
    settings = make_settings(clean_database)
    settings.portfolio = PortfolioSettings(snapshot_interval_seconds=1)
    async with (
        running_app(settings, broker_kind) as app,
        api_client(app, await make_key(app)) as client,
    ):
        set_market(engine_of(app), "189.99", "190.00", last="190.00")
        await place(client, qty="10")
        set_market(engine_of(app), "191.99", "192.00", last="192.00")
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            items = (await client.get("/api/v1/positions/history")).json()["items"]
            # the first pass may run before the market moved: wait for one at 192
            interval = [
                item
                for item in items
                if item["reason"] == "interval" and Decimal(item["market_price"]) == 192
            ]
            if interval or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.1)
        assert interval, items
        newest = interval[0]
        assert Decimal(newest["qty"]) == 10
        # 10 x (192.00 - 190.10)
        assert Decimal(newest["unrealized_pnl"]) == Decimal("19.00")
        accounts = (await client.get("/api/v1/accounts/DU1234567/history")).json()["items"]
        assert any(item["reason"] == "interval" for item in accounts)
