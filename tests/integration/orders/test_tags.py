"""A free-form tag on orders: kept, inherited by bracket legs, shown, and a filter."""

from __future__ import annotations

from typing import Any

import httpx

from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.orders.schemas import OrderCreate
from tests.factories import order_body, place, resting_limit_body, set_market


async def test_a_tag_is_kept_shown_and_found(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    set_market(engine, "99.99", "100.00", last="100.00")
    queue = app.state.bus.subscribe()
    tagged = await place(client, tag="mean-reversion v2", qty="2")
    assert tagged["tag"] == "mean-reversion v2"
    assert tagged["status"] == "filled"
    other = await place(client, qty="1")
    assert other["tag"] is None
    bracket = await place(
        client,
        **resting_limit_body(engine, qty="3"),
        tag="breakout",
        take_profit={"limit_price": "104.00"},
        stop_loss={"stop_price": "93.00"},
    )
    assert [leg["tag"] for leg in bracket["legs"]] == ["breakout", "breakout"]

    found = (await client.get("/api/v1/orders", params={"tag": "breakout"})).json()["items"]
    assert sorted(o["id"] for o in found) == sorted(
        [bracket["id"], *(leg["id"] for leg in bracket["legs"])]
    )
    only = (await client.get("/api/v1/orders", params={"tag": "mean-reversion v2"})).json()
    assert [o["id"] for o in only["items"]] == [tagged["id"]]
    none = (await client.get("/api/v1/orders", params={"tag": "nobody"})).json()
    assert none["items"] == []
    # The events carry it too.
    updates = []
    while not queue.empty():
        topic, data = queue.get_nowait()
        if topic == "order.updated" and data["id"] == tagged["id"]:
            updates.append(data["tag"])
    assert updates
    assert set(updates) == {"mean-reversion v2"}


async def test_a_retry_with_another_tag_is_a_conflict(client: httpx.AsyncClient) -> None:
    body = order_body(client_order_id="tagged-1", tag="a", qty="1")
    first = await client.post("/api/v1/orders", json=body)
    assert first.status_code == 201, first.text
    again = await client.post("/api/v1/orders", json=body)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    changed = await client.post("/api/v1/orders", json={**body, "tag": "b"})
    assert changed.status_code == 409, changed.text
    untagged = await client.post("/api/v1/orders", json={**body, "tag": None})
    assert untagged.status_code == 409, untagged.text


async def test_bad_tags_are_422s_and_place_nothing(client: httpx.AsyncClient) -> None:
    for tag in ["", "   ", "x" * 65, "tab\there", "bell\x07", 7, ["a"]]:
        response = await client.post("/api/v1/orders", json=order_body(tag=tag))
        assert response.status_code == 422, (tag, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    bad_filter = await client.get("/api/v1/orders", params={"tag": "x" * 65})
    assert bad_filter.status_code == 422
    assert (await client.get("/api/v1/orders")).json()["items"] == []


def test_an_untagged_request_hashes_as_before_tags_existed() -> None:
    """A retry of an order placed before the upgrade must still be a replay."""
    order = OrderCreate.model_validate(
        {"symbol": "AAPL", "side": "buy", "qty": "10", "type": "market"}
    )
    # The fingerprint of this body as the release before tags computed it.
    assert order.request_hash("c-1") == (
        "104df866e6d7cd79013684eee22d90251b9a050992e79134ddd3b1633cb137a1"
    )
