"""client_order_id makes placing an order idempotent: 201 new, 200 replay, 409 conflict."""

from __future__ import annotations

import asyncio

import httpx

from stocks_api.broker.sim.engine import MatchingEngine
from tests.factories import count_orders, order_body, resting_limit_body


async def test_replay_of_the_same_body_returns_the_order(client: httpx.AsyncClient) -> None:
    body = order_body(client_order_id="abc-1")
    first = await client.post("/api/v1/orders", json=body)
    assert first.status_code == 201
    # The same order written differently ("10.0" for "10", lower-case symbol) is a replay.
    replay = await client.post(
        "/api/v1/orders", json={**body, "qty": "10.0", "symbol": "aapl", "tif": "day"}
    )
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    assert await count_orders(client) == 1
    fills = (await client.get("/api/v1/fills")).json()["items"]
    assert len(fills) == 1, "a replay must not reach the broker again"


async def test_same_id_with_a_different_body_is_a_conflict(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/orders", json=order_body(client_order_id="abc-2"))
    conflict = await client.post(
        "/api/v1/orders", json=order_body(client_order_id="abc-2", qty="11")
    )
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert await count_orders(client) == 1


async def test_generated_client_order_ids_are_unique(client: httpx.AsyncClient) -> None:
    a = (await client.post("/api/v1/orders", json=order_body())).json()
    b = (await client.post("/api/v1/orders", json=order_body())).json()
    assert a["client_order_id"] != b["client_order_id"]
    assert await count_orders(client) == 2


async def test_fifty_concurrent_posts_create_exactly_one_order(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    body = resting_limit_body(engine, client_order_id="race-1")
    responses = await asyncio.gather(*(client.post("/api/v1/orders", json=body) for _ in range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201], [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count_orders(client) == 1
    assert len(engine.open_orders()) == 1, "the broker saw the order exactly once"


async def test_concurrent_conflicting_bodies_create_one_order(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    bodies = [resting_limit_body(engine, client_order_id="race-2", qty=str(q)) for q in (1, 2)]
    responses = await asyncio.gather(
        *(client.post("/api/v1/orders", json=bodies[i % 2]) for i in range(20))
    )
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 1
    assert set(codes) <= {200, 201, 409}
    assert await count_orders(client) == 1
    assert len(engine.open_orders()) == 1
