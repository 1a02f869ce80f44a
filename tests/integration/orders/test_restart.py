"""A restart keeps every order, event and fill; orders the broker lost are closed, not forgotten."""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx

from stocks_api.settings import Settings
from tests.conftest import api_client, engine_of, make_key, running_app, running_gateway
from tests.factories import resting_limit_body


async def _snapshot(http: httpx.AsyncClient) -> tuple[list[dict], list[dict], dict[int, list]]:  # type: ignore[type-arg]
    orders = (await http.get("/api/v1/orders")).json()["items"]
    fills = (await http.get("/api/v1/fills")).json()["items"]
    events = {o["id"]: (await http.get(f"/api/v1/orders/{o['id']}/events")).json() for o in orders}
    return orders, fills, events


async def test_restart_keeps_orders_events_and_fills(settings: Settings, broker_kind: str) -> None:
    async with AsyncExitStack() as stack:
        # Through IB, the gateway outlives the API, as IB Gateway does.
        gateway = None
        if broker_kind == "ibkr":
            gateway = await stack.enter_async_context(running_gateway(settings))
        async with running_app(settings, broker_kind, gateway=gateway) as first:
            key = await make_key(first)
            http = api_client(first, key)
            filled = (
                await http.post(
                    "/api/v1/orders",
                    json={"symbol": "MSFT", "side": "buy", "qty": "3", "type": "market"},
                )
            ).json()
            resting_body = resting_limit_body(engine_of(first), client_order_id="rest-1")
            resting = (await http.post("/api/v1/orders", json=resting_body)).json()
            assert (filled["status"], resting["status"]) == ("filled", "submitted")
            orders_before, fills_before, events_before = await _snapshot(http)
            await http.aclose()

        async with (
            running_app(settings, broker_kind, gateway=gateway) as second,
            api_client(second, key) as http,
        ):
            orders_after, fills_after, events_after = await _snapshot(http)
            working_at_broker = len(engine_of(second).open_orders())

    assert fills_after == fills_before
    assert len(fills_after) == 1
    by_id = {o["id"]: o for o in orders_after}
    assert by_id[filled["id"]] == next(o for o in orders_before if o["id"] == filled["id"])
    assert events_after[filled["id"]] == events_before[filled["id"]]
    if broker_kind == "ibkr":
        # IB Gateway still works the resting order: after the restart it is the same
        # order, still open, its history unchanged (reconciled, not sent again).
        assert by_id[resting["id"]] == next(o for o in orders_before if o["id"] == resting["id"])
        assert events_after[resting["id"]] == events_before[resting["id"]]
        assert working_at_broker == 1
        return
    # The simulated broker restarted with the app, so the resting order is gone there:
    # it is closed with a reason in its audit trail, never silently left "open".
    assert by_id[resting["id"]]["status"] == "cancelled"
    assert (
        events_after[resting["id"]][: len(events_before[resting["id"]])]
        == events_before[resting["id"]]
    )
    last = events_after[resting["id"]][-1]
    assert last["to_status"] == "cancelled"
    assert "restart" in last["reason"]
