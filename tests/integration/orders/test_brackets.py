"""Bracket orders through the API: a parent and two OCA children, as at IBKR."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx

from stocks_api.broker.sim.engine import MatchingEngine
from tests.factories import place, set_market, wait_for_status

Settle = Callable[[], Awaitable[None]]


def _legs(order: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {leg["type"]: leg for leg in order["legs"]}


async def _order(client: httpx.AsyncClient, order_id: int) -> dict[str, Any]:
    data: dict[str, Any] = (await client.get(f"/api/v1/orders/{order_id}")).json()
    return data


async def test_filled_parent_activates_children_and_take_profit_cancels_stop_loss(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Settle
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    parent = await place(
        client,
        qty="100",
        type="limit",
        limit_price="190.00",
        take_profit={"limit_price": "195.00"},
        stop_loss={"stop_price": "185.00"},
    )
    assert parent["status"] == "filled"
    legs = _legs(parent)
    assert set(legs) == {"limit", "stop"}
    take_profit, stop_loss = legs["limit"], legs["stop"]
    for leg in (take_profit, stop_loss):
        assert (leg["side"], leg["qty"], leg["parent_id"]) == ("sell", "100", parent["id"])
        assert leg["status"] == "submitted"
    assert take_profit["oca_group"] == stop_loss["oca_group"] is not None
    assert (Decimal(take_profit["limit_price"]), Decimal(stop_loss["stop_price"])) == (195, 185)

    set_market(engine, "195.00", "195.01", last="195.00")
    await wait_for_status(client, take_profit["id"], "filled")
    cancelled = await wait_for_status(client, stop_loss["id"], "cancelled")
    assert cancelled["filled_qty"] == "0"
    events = (await client.get(f"/api/v1/orders/{stop_loss['id']}/events")).json()
    assert "OCA" in events[-1]["reason"]
    await settle()
    position = (await client.get("/api/v1/positions/AAPL")).json()
    assert Decimal(position["qty"]) == 0


async def test_children_wait_while_the_parent_rests(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    parent = await place(
        client,
        qty="10",
        type="limit",
        limit_price="180.00",
        tif="gtc",
        take_profit={"limit_price": "200.00"},
        stop_loss={"stop_price": "175.00", "limit_price": "174.00"},
    )
    assert parent["status"] == "submitted"
    legs = _legs(parent)
    assert set(legs) == {"limit", "stop_limit"}
    assert all(leg["tif"] == "gtc" for leg in legs.values())
    # The market falls through the stop-loss price, but the children are held: nothing fills.
    set_market(engine, "200.00", "200.01", last="200.00")
    assert (await _order(client, legs["limit"]["id"]))["status"] == "submitted"
    assert (await _order(client, legs["limit"]["id"]))["filled_qty"] == "0"

    response = await client.delete(f"/api/v1/orders/{parent['id']}")
    assert response.status_code == 200
    await wait_for_status(client, parent["id"], "cancelled")
    for leg in legs.values():
        await wait_for_status(client, leg["id"], "cancelled")


async def test_a_partial_take_profit_reduces_the_stop_loss(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Settle
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    parent = await place(
        client,
        qty="300",
        type="market",
        take_profit={"limit_price": "195.00"},
        stop_loss={"stop_price": "185.00"},
    )
    assert parent["status"] == "filled"
    legs = _legs(parent)
    set_market(engine, "195.00", "195.01", last="195.00", size=100)
    await settle()  # through IB the sibling's new size is a message of its own
    await wait_for_status(client, legs["limit"]["id"], "partially_filled")
    stop_loss = await _order(client, legs["stop"]["id"])
    assert stop_loss["qty"] == "200"
    assert stop_loss["status"] == "submitted"


async def test_a_rejected_bracket_rejects_every_leg(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/orders",
        json={
            "symbol": "AAPL",
            "side": "buy",
            "qty": "10",
            "type": "limit",
            "limit_price": "190.00",
            "take_profit": {"limit_price": "185.00"},
        },
    )
    assert response.status_code == 422
    assert "take_profit.limit_price must be above" in response.text
    orders = (await client.get("/api/v1/orders")).json()["items"]
    assert orders == []


async def test_a_bracket_replays_with_its_legs(client: httpx.AsyncClient) -> None:
    body = {
        "symbol": "AAPL",
        "side": "sell",
        "qty": "10",
        "type": "market",
        "client_order_id": "bracket-1",
        "take_profit": {"limit_price": "180.00"},
        "stop_loss": {"stop_price": "200.00"},
    }
    first = await client.post("/api/v1/orders", json=body)
    assert first.status_code == 201, first.text
    again = await client.post("/api/v1/orders", json=body)
    assert again.status_code == 200
    assert {leg["id"] for leg in again.json()["legs"]} == {
        leg["id"] for leg in first.json()["legs"]
    }
    assert len((await client.get("/api/v1/orders")).json()["items"]) == 3


async def test_cancel_all_takes_held_children_along_with_their_parent(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    parent = await place(
        client,
        qty="10",
        type="limit",
        limit_price="180.00",
        take_profit={"limit_price": "200.00"},
        stop_loss={"stop_price": "175.00"},
    )
    other = await place(client, qty="5", type="limit", limit_price="175.00")

    response = await client.delete("/api/v1/orders")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["failed"] == []
    ids = {parent["id"], other["id"], *(leg["id"] for leg in parent["legs"])}
    assert {order["id"] for order in result["cancel_requested"]} == ids
    for order_id in ids:
        await wait_for_status(client, order_id, "cancelled")


async def test_a_bracket_refused_by_risk_is_a_422_while_someone_listens(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    """The refused parent is announced on the bus; its legs were never written (no ids) and
    are not: announcing them made this a 500 whenever a WebSocket client was connected."""
    set_market(engine, "99.99", "100.00", last="100.00")
    queue = app.state.bus.subscribe()
    response = await client.post(
        "/api/v1/orders",
        json={
            "symbol": "AAPL",
            "side": "buy",
            "qty": "3",
            "type": "limit",
            "limit_price": "99.00",
            "take_profit": {"limit_price": "150.00"},  # far outside the price band
            "stop_loss": {"stop_price": "95.00"},
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "RISK_REJECTED"
    order_id = response.json()["error"]["details"][0]["order_id"]
    announced = []
    while not queue.empty():
        topic, data = queue.get_nowait()
        if topic == "order.updated":
            announced.append((data["id"], data["status"], data["legs"]))
    assert announced == [(order_id, "rejected", [])]
