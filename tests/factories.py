"""Test data: order request bodies and small API helpers."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx

from stocks_api.broker.sim.engine import MatchingEngine


def order_body(**overrides: Any) -> dict[str, Any]:
    """A valid market order body; keyword arguments replace or add fields."""
    body: dict[str, Any] = {"symbol": "AAPL", "side": "buy", "qty": "10", "type": "market"}
    body.update(overrides)
    return body


def resting_limit_body(engine: MatchingEngine, **overrides: Any) -> dict[str, Any]:
    """A buy limit order below the market (inside the price band), so it rests until cancelled."""
    bid = engine.quote("AAPL").bid
    price = (bid * Decimal("0.95")).quantize(Decimal("0.01"))
    return order_body(**{"type": "limit", "limit_price": str(price), "tif": "gtc", **overrides})


def set_market(
    engine: MatchingEngine,
    bid: str,
    ask: str,
    *,
    size: int = 500,
    last: str | None = None,
    symbol: str = "AAPL",
) -> None:
    """Put a symbol's quote where a test needs it (the engine matches resting orders at once)."""
    engine.set_quote(
        symbol,
        bid=Decimal(bid),
        ask=Decimal(ask),
        bid_size=Decimal(size),
        ask_size=Decimal(size),
        last=None if last is None else Decimal(last),
    )


async def place(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """Place an order that must be accepted; return its JSON."""
    response = await client.post("/api/v1/orders", json=order_body(**overrides))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def wait_for_status(
    client: httpx.AsyncClient, order_id: int, *statuses: str, seconds: float = 5.0
) -> dict[str, Any]:
    """Poll an order until it reaches one of `statuses`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        data: dict[str, Any] = (await client.get(f"/api/v1/orders/{order_id}")).json()
        if data["status"] in statuses:
            return data
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"order {order_id} stayed {data['status']}, wanted {statuses}")
        await asyncio.sleep(0.01)


async def count_orders(client: httpx.AsyncClient) -> int:
    response = await client.get("/api/v1/orders", params={"limit": 500})
    assert response.status_code == 200
    return len(response.json()["items"])
