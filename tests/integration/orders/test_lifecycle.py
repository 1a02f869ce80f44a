"""An order's life through the API on the simulated broker: place, fill, modify, cancel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import httpx

from stocks_api.broker.sim.engine import MatchingEngine
from tests.factories import place, resting_limit_body, set_market

Settle = Callable[[], Awaitable[None]]


async def test_market_order_fills_with_commission(client: httpx.AsyncClient) -> None:
    order = await place(client, qty="10")
    assert order["status"] == "filled"
    assert order["filled_qty"] == "10"
    assert order["broker_order_id"]
    assert order["submitted_at"]
    assert order["filled_at"]

    fills = (await client.get("/api/v1/fills", params={"order_id": order["id"]})).json()["items"]
    assert len(fills) == 1
    fill = fills[0]
    assert Decimal(fill["qty"]) == 10
    assert Decimal(fill["price"]) == Decimal(order["avg_fill_price"])
    # IBKR fixed tier: 10 shares * 0.005 = 0.05, raised to the 1.00 minimum.
    assert Decimal(fill["commission"]) == Decimal("1.00")


async def test_market_order_larger_than_displayed_size_fills_partially(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Settle
) -> None:
    set_market(engine, "100.00", "100.02", size=100)
    order = await place(client, qty="250")
    assert order["status"] == "partially_filled"
    assert order["filled_qty"] == "100"
    assert order["avg_fill_price"] == "100.0200"  # averages to 4 places

    for _ in range(20):
        engine.tick()
        await settle()
        current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
        if current["status"] == "filled":
            break
    else:
        raise AssertionError("order never completed")
    fills = (await client.get("/api/v1/fills", params={"order_id": order["id"]})).json()["items"]
    assert sum(Decimal(f["qty"]) for f in fills) == 250
    assert len({f["exec_id"] for f in fills}) == len(fills) >= 2
    total = sum(Decimal(f["qty"]) * Decimal(f["price"]) for f in fills)
    assert Decimal(current["avg_fill_price"]) == total / 250
    # 250 shares at 0.005 = 1.25 for the whole order, however it was split.
    assert sum(Decimal(f["commission"]) for f in fills) == Decimal("1.25")


async def test_limit_order_rests_then_fills_when_market_reaches_it(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Settle
) -> None:
    set_market(engine, "100.00", "100.02", size=500, last="100.01")
    order = await place(client, type="limit", limit_price="99.50", qty="5")
    assert order["status"] == "submitted"
    set_market(engine, "99.40", "99.45", size=500)
    await settle()
    current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert current["status"] == "filled"
    assert current["avg_fill_price"] == "99.4500"  # filled at the ask, better than the limit


async def test_stop_order_triggers(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Settle, broker_kind: str
) -> None:
    set_market(engine, "100.00", "100.02", size=500, last="100.01")
    order = await place(client, type="stop", stop_price="101.00", qty="5")
    assert order["status"] == "submitted"
    set_market(engine, "101.10", "101.12", size=500, last="101.11")
    await settle()
    current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert current["status"] == "filled"
    events = (await client.get(f"/api/v1/orders/{order['id']}/events")).json()
    # The simulator reports a stop's trigger; IB does not (the order just fills).
    triggered = [e["reason"] for e in events if e["kind"] == "broker_update"]
    assert triggered == (["stop triggered"] if broker_kind == "sim" else [])


async def test_cancel_resting_order(client: httpx.AsyncClient, engine: MatchingEngine) -> None:
    order = await place(client, **resting_limit_body(engine))
    response = await client.delete(f"/api/v1/orders/{order['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancelled_at"]
    assert not engine.open_orders()

    again = await client.delete(f"/api/v1/orders/{order['id']}")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ORDER_NOT_OPEN"


async def test_cancel_all_open_orders(client: httpx.AsyncClient, engine: MatchingEngine) -> None:
    resting = [await place(client, **resting_limit_body(engine)) for _ in range(3)]
    filled = await place(client)
    response = await client.delete("/api/v1/orders")
    assert response.status_code == 200
    body = response.json()
    assert sorted(o["id"] for o in body["cancel_requested"]) == sorted(o["id"] for o in resting)
    assert all(o["status"] == "cancelled" for o in body["cancel_requested"])
    assert body["failed"] == []
    assert (await client.get(f"/api/v1/orders/{filled['id']}")).json()["status"] == "filled"


async def test_modify_quantity_and_price(client: httpx.AsyncClient, engine: MatchingEngine) -> None:
    order = await place(client, **resting_limit_body(engine, qty="5"))
    response = await client.patch(
        f"/api/v1/orders/{order['id']}", json={"qty": "7", "limit_price": "175.5"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["qty"] == "7"
    assert response.json()["limit_price"] == "175.5"
    working = engine.open_orders()[0].request
    assert (working.qty, working.limit_price) == (Decimal(7), Decimal("175.5"))

    events = (await client.get(f"/api/v1/orders/{order['id']}/events")).json()
    modify = [e for e in events if e["kind"] == "modify_requested"]
    assert modify[0]["payload"]["old"]["qty"] == "5"
    assert modify[0]["payload"]["new"]["limit_price"] == "175.5"


async def test_modify_through_the_market_fills(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    order = await place(client, **resting_limit_body(engine))
    ask = engine.quote("AAPL").ask
    response = await client.patch(f"/api/v1/orders/{order['id']}", json={"limit_price": str(ask)})
    assert response.status_code == 200
    assert response.json()["status"] == "filled"


async def test_invalid_modifications_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    order = await place(client, **resting_limit_body(engine))
    stop_on_limit = await client.patch(f"/api/v1/orders/{order['id']}", json={"stop_price": "1"})
    assert stop_on_limit.status_code == 422
    assert stop_on_limit.json()["error"]["code"] == "INVALID_MODIFICATION"
    empty = await client.patch(f"/api/v1/orders/{order['id']}", json={})
    assert empty.status_code == 422
    filled = await place(client)
    closed = await client.patch(f"/api/v1/orders/{filled['id']}", json={"qty": "20"})
    assert closed.status_code == 409
    current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert current["qty"] == order["qty"]
    assert current["limit_price"] == order["limit_price"]


async def test_audit_trail_records_every_step(client: httpx.AsyncClient) -> None:
    order = await place(client)
    events = (await client.get(f"/api/v1/orders/{order['id']}/events")).json()
    steps = [(e["kind"], e["from_status"], e["to_status"]) for e in events]
    assert steps == [
        ("created", None, "pending_submit"),
        ("status", "pending_submit", "submitted"),
        ("fill", "submitted", "filled"),
    ]
    assert Decimal(events[2]["payload"]["commission"]) == Decimal("1.00")
    missing = await client.get("/api/v1/orders/999999/events")
    assert missing.status_code == 404


async def test_get_by_id_and_client_id(client: httpx.AsyncClient) -> None:
    order = await place(client, client_order_id="my-order-1")
    by_id = await client.get(f"/api/v1/orders/{order['id']}")
    by_cid = await client.get("/api/v1/orders/by-client-id/my-order-1")
    assert by_id.json() == by_cid.json()
    assert by_id.json()["client_order_id"] == "my-order-1"
    missing = await client.get("/api/v1/orders/by-client-id/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ORDER_NOT_FOUND"


async def test_modify_the_broker_refuses_is_rolled_back(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    set_market(engine, "100.00", "100.02", size=500, last="100.01")
    # The stop triggers at once, the limit is below the ask: a triggered, working order.
    order = await place(client, type="stop_limit", stop_price="100.00", limit_price="99.00")
    assert order["status"] == "submitted"
    # Our validation passes; the broker refuses to move a stop that already triggered.
    response = await client.patch(f"/api/v1/orders/{order['id']}", json={"stop_price": "101"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "BROKER_REJECTED"
    current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert current["stop_price"] == "100"
    assert current["status"] == "submitted"
    kinds = [e["kind"] for e in (await client.get(f"/api/v1/orders/{order['id']}/events")).json()]
    assert kinds[-2:] == ["modify_requested", "modify_rejected"]


async def test_list_filters_and_pagination(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    filled = [await place(client, symbol=s) for s in ("AAPL", "MSFT", "AAPL")]
    resting = await place(client, **resting_limit_body(engine))
    sold = await place(client, side="sell", symbol="MSFT")

    async def ids(**params: object) -> list[int]:
        response = await client.get("/api/v1/orders", params=params)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["items"]]

    everything = [sold["id"], resting["id"], *[o["id"] for o in reversed(filled)]]
    assert await ids() == everything  # newest first
    assert await ids(status="open") == [resting["id"]]
    assert await ids(status="submitted") == [resting["id"]]
    assert await ids(status="closed") == [i for i in everything if i != resting["id"]]
    assert await ids(symbol="msft") == [sold["id"], filled[1]["id"]]
    assert await ids(side="sell") == [sold["id"]]
    created = (await client.get(f"/api/v1/orders/{resting['id']}")).json()["created_at"]
    naive = created.removesuffix("Z")  # no offset means UTC
    assert await ids(since=naive) == [sold["id"], resting["id"]]
    assert await ids(until=created) == [o["id"] for o in reversed(filled)]

    pages, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/api/v1/orders", params=params)).json()
        pages.append([o["id"] for o in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == [everything[0:2], everything[2:4], everything[4:5]]

    fills = (await client.get("/api/v1/fills", params={"symbol": "AAPL"})).json()["items"]
    assert sorted(f["order_id"] for f in fills) == sorted(
        o["id"] for o in filled if o["symbol"] == "AAPL"
    )
    first = (await client.get("/api/v1/fills", params={"limit": 1})).json()
    rest = (await client.get("/api/v1/fills", params={"cursor": first["next_cursor"]})).json()
    assert len(first["items"]) + len(rest["items"]) == 4
    since_fills = await client.get("/api/v1/fills", params={"since": naive})
    assert [f["order_id"] for f in since_fills.json()["items"]] == [sold["id"]]
