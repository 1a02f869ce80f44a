"""The WebSocket stream with a real client: an order's life, channels, bad input, credentials."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
from fastapi import FastAPI

from stocks_api.auth import service as auth_service
from tests.conftest import engine_of, make_key
from tests.factories import order_body, place, resting_limit_body, set_market
from tests.integration.streaming.conftest import (
    authenticated,
    live_app,
    open_stream,
    stream_settings,
)

Live = tuple[FastAPI, httpx.AsyncClient, str]
STATUS_ORDER = ["pending_submit", "submitted", "partially_filled", "filled"]


def _order_of(order_id: int) -> Any:
    return lambda m: m["data"].get("id", m["data"].get("order_id")) == order_id


async def test_an_order_placed_over_rest_goes_through_its_life_in_order(live: Live) -> None:
    app, http, base = live
    async with authenticated(base, app.state.test_key) as stream:
        ack = await stream.subscribe("orders", "fills")
        assert ack["type"] == "subscribed"
        assert ack["data"]["channels"] == ["fills", "orders"]

        order = await place(http, qty="10")
        messages = await stream.until(
            lambda m: m["type"] == "order.updated" and m["data"]["status"] == "filled",
            "order.updated",
            "fill.created",
        )
        mine = [m for m in messages if _order_of(order["id"])(m)]
        statuses = [m["data"]["status"] for m in mine if m["type"] == "order.updated"]
        # Every change, not only the last state of a batch, and never backwards.
        assert statuses[:2] == ["pending_submit", "submitted"]
        assert statuses[-1] == "filled"
        assert statuses == sorted(statuses, key=STATUS_ORDER.index)
        updates = [m["data"] for m in mine if m["type"] == "order.updated"]
        assert all(a != b for a, b in itertools.pairwise(updates))  # each one is news
        fills = [m for m in mine if m["type"] == "fill.created"]
        assert sum(float(f["data"]["qty"]) for f in fills) == 10
        # A fill comes before the order update it completes.
        assert mine.index(fills[-1]) < len(mine) - 1
        # The payloads are the REST resources.
        rest = (await http.get(f"/api/v1/orders/{order['id']}")).json()
        assert mine[-1]["data"] == rest
        rest_fills = (await http.get("/api/v1/fills", params={"order_id": order["id"]})).json()
        by_exec = {f["exec_id"]: f for f in rest_fills["items"]}
        assert [f["data"] for f in fills] == [by_exec[f["data"]["exec_id"]] for f in fills]


async def test_unsubscribed_channels_go_quiet_and_others_keep_flowing(live: Live) -> None:
    app, http, base = live
    async with authenticated(base, app.state.test_key) as stream:
        await stream.subscribe("orders", "fills")
        await stream.send({"op": "unsubscribe", "channels": ["orders", "risk"], "id": 7})
        ack = await stream.next_of("unsubscribed")
        assert ack["data"] == {"channels": ["fills"], "id": 7}

        order = await place(http, qty="5")
        fill = await stream.next_of("fill.created")
        assert fill["data"]["order_id"] == order["id"]
        await stream.send({"op": "ping", "id": "after"})
        # Nothing about the order arrived between the fill and the pong.
        pong = await stream.next()
        assert (pong["type"], pong["data"]) == ("pong", {"id": "after"})


async def test_bad_messages_get_errors_and_the_connection_stays_open(live: Live) -> None:
    app, _, base = live
    async with authenticated(base, app.state.test_key) as stream:
        cases: list[tuple[Any, str]] = [
            ("{not json", "INVALID_JSON"),
            ("[1, 2]", "INVALID_MESSAGE"),
            ({"op": "dance"}, "UNKNOWN_OP"),
            ({"channels": ["orders"]}, "UNKNOWN_OP"),
            ({"op": "subscribe"}, "INVALID_MESSAGE"),
            ({"op": "subscribe", "channels": "orders"}, "INVALID_MESSAGE"),
            ({"op": "subscribe", "channels": ["orders", "gossip"]}, "UNKNOWN_CHANNEL"),
            ({"op": "subscribe", "channels": ["quotes:ZZZZ"]}, "UNKNOWN_SYMBOL"),
            ({"op": "subscribe", "channels": ["quotes:"]}, "UNKNOWN_CHANNEL"),
            ({"op": "auth", "token": "again"}, "ALREADY_AUTHENTICATED"),
        ]
        for sent, code in cases:
            await stream.send(sent)
            error = await stream.next_of("error")
            assert error["data"]["code"] == code, (sent, error)
            assert error["data"]["message"]
        await stream.connection.send(b"\xff\xfe binary garbage")
        assert (await stream.next_of("error"))["data"]["code"] == "INVALID_JSON"
        # A rejected subscribe changed nothing; a good one still works.
        ack = await stream.subscribe("orders")
        assert ack["data"]["channels"] == ["orders"]


async def test_credentials_are_those_of_rest_and_failures_have_close_codes(
    clean_database: str,
) -> None:
    settings = stream_settings(clean_database, auth_timeout_seconds=0.3)
    async with live_app(settings) as (app, http, base):
        url = f"{base}/api/v1/ws"
        key = app.state.test_key
        for connect_args in (
            {"additional_headers": {"X-API-Key": key}},
            {"additional_headers": {"Authorization": f"Bearer {await _token(http, app)}"}},
        ):
            async with open_stream(url, **connect_args) as stream:
                assert (await stream.next())["type"] == "welcome"
        async with open_stream(url) as stream:  # the first message authenticates
            await stream.send({"op": "subscribe", "channels": ["orders"]})
            assert (await stream.next())["data"]["code"] == "NOT_AUTHENTICATED"
            await stream.send({"op": "auth", "token": key})
            welcome = await stream.next()
            assert welcome["type"] == "welcome"
            assert welcome["data"]["principal"] == "key:test"

        async with open_stream(f"{url}?token=stk_0123456789abcdef_wrong") as stream:
            assert await stream.closed_with() == 4401
        async with open_stream(url) as stream:
            await stream.send({"op": "auth", "token": "not-a-jwt"})
            assert await stream.closed_with() == 4401
        async with open_stream(url) as stream:  # says nothing: timed out
            assert await stream.closed_with() == 4401
        trade_only = await make_key(app, "trade", name="trade-only")
        async with open_stream(f"{url}?token={trade_only}") as stream:
            assert await stream.closed_with() == 4403
        evil = {"origin": "https://evil.example"}
        async with open_stream(f"{url}?token={key}", **evil) as stream:
            assert await stream.closed_with() == 4403
        same_origin = {"origin": base.replace("ws://", "http://")}
        async with open_stream(f"{url}?token={key}", **same_origin) as stream:
            assert (await stream.next())["type"] == "welcome"


async def _token(http: httpx.AsyncClient, app: FastAPI) -> str:
    async with app.state.db.sessionmaker() as session:
        await auth_service.set_password(session=session, username="admin", password="pw-123456")
    response = await http.post(
        "/api/v1/auth/token", data={"username": "admin", "password": "pw-123456"}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_positions_account_and_risk_channels(live: Live) -> None:
    app, http, base = live
    set_market(engine_of(app), "189.99", "190.00", size=5000, last="190.00")
    async with authenticated(base, app.state.test_key) as stream:
        await stream.subscribe("positions", "account", "risk")
        await place(http, qty="10")
        position = await stream.next_of("position.updated")
        assert (position["data"]["symbol"], position["data"]["qty"]) == ("AAPL", "10")
        account = await stream.next_of("account.updated")
        rest = (await http.get(f"/api/v1/accounts/{account['data']['account_id']}/summary")).json()
        assert set(account["data"]) == set(rest)

        await place(http, side="sell", qty="10")  # flat: the closed position is announced too
        flat = await stream.until(lambda m: m["data"]["qty"] == "0", "position.updated")
        assert flat[-1]["data"]["symbol"] == "AAPL"

        response = await http.post("/api/v1/risk/halt", json={"reason": "lunch"})
        assert response.status_code == 200, response.text
        state = await stream.next_of("risk.state")
        assert (state["data"]["state"], state["data"]["reason"]) == ("halted", "lunch")


async def test_the_consumer_announces_a_filled_position_without_waiting_for_a_revaluation(
    live: Live,
) -> None:
    app, http, base = live
    set_market(engine_of(app), "189.99", "190.00", size=5000, last="190.00")
    await app.state.snapshots.stop()  # no revaluation pass: only the consumer can announce it
    async with authenticated(base, app.state.test_key) as stream:
        await stream.subscribe("positions", "fills")
        await place(http, qty="10")
        fill = await stream.next_of("fill.created")
        position = await stream.next_of("position.updated", seconds=2.0)
        data = position["data"]
        assert (data["symbol"], data["qty"]) == ("AAPL", "10")
        # Marked at the fill's price, the last trade it knows of.
        assert data["market_price"] == fill["data"]["price"] == "190"
        rest = (await http.get("/api/v1/positions/AAPL")).json()
        assert set(data) == set(rest)
        assert (data["qty"], data["avg_cost"]) == (rest["qty"], rest["avg_cost"])

        await place(http, side="sell", qty="10")
        flat = await stream.until(lambda m: m["data"]["qty"] == "0", "position.updated")
        assert flat[-1]["data"]["market_value"] == "0.00"


async def test_refused_and_modified_orders_are_announced(live: Live) -> None:
    app, http, base = live
    engine = engine_of(app)
    async with authenticated(base, app.state.test_key) as stream:
        await stream.subscribe("orders")
        response = await http.put("/api/v1/risk/limits", json={"max_order_qty": "5"})
        assert response.status_code == 200, response.text
        refused = await http.post("/api/v1/orders", json=order_body(qty="6"))
        assert refused.status_code == 422
        update = await stream.next_of("order.updated")
        assert (update["data"]["status"], update["data"]["qty"]) == ("rejected", "6")
        assert update["data"]["reject_reason"].startswith("risk:")

        resting = await place(http, **resting_limit_body(engine, qty="2"))
        await stream.until(lambda m: m["data"]["status"] == "submitted", "order.updated")
        new_price = str(float(resting["limit_price"]) - 1)
        response = await http.patch(
            f"/api/v1/orders/{resting['id']}", json={"limit_price": new_price}
        )
        assert response.status_code == 200, response.text
        modified = await stream.next_of("order.updated")
        assert float(modified["data"]["limit_price"]) == float(new_price)


async def test_quotes_start_with_a_snapshot_then_follow_the_market(
    clean_database: str, broker_kind: str
) -> None:
    settings = stream_settings(clean_database, quote_interval_seconds=0.05)
    async with live_app(settings, broker_kind) as (app, http, base):
        engine = engine_of(app)
        set_market(engine, "100.00", "100.02", last="100.01")
        async with authenticated(base, app.state.test_key) as stream:
            ack = await stream.subscribe("quotes:aapl")
            assert ack["data"]["channels"] == ["quotes:AAPL"]
            first = await stream.next_of("quote")
            assert (first["data"]["symbol"], first["data"]["bid"]) == ("AAPL", "100")
            set_market(engine, "101.50", "101.52", last="101.51")
            moved = await stream.next_of("quote")
            assert (moved["data"]["bid"], moved["data"]["ask"]) == ("101.5", "101.52")
            metrics = (await http.get("/metrics")).text
            assert "marketdata_subscriptions 1.0" in metrics
            await stream.send({"op": "unsubscribe", "channels": ["quotes:AAPL"]})
            await stream.next_of("unsubscribed")
            set_market(engine, "102.50", "102.52", last="102.51")
            await stream.send({"op": "ping"})
            assert (await stream.next())["type"] == "pong"  # no quote came in between


async def test_the_client_gauge_counts_connections(live: Live) -> None:
    app, http, base = live

    async def gauge() -> str:
        text = (await http.get("/metrics")).text
        return next(line for line in text.splitlines() if line.startswith("websocket_clients "))

    async with authenticated(base, app.state.test_key), authenticated(base, app.state.test_key):
        assert await gauge() == "websocket_clients 2.0"
    for _ in range(100):
        if await gauge() == "websocket_clients 0.0":
            break
        await asyncio.sleep(0.02)
    assert await gauge() == "websocket_clients 0.0"


async def test_a_failure_answering_one_message_keeps_the_stream_open(live: Live) -> None:
    app, _, base = live

    async def broken_contract(symbol: str) -> None:
        raise RuntimeError("a bug")

    app.state.broker.contract = broken_contract
    async with authenticated(base, app.state.test_key) as stream:
        await stream.send({"op": "subscribe", "channels": ["quotes:AAPL"], "id": 1})
        error = await stream.next_of("error")
        assert error["data"]["code"] == "INTERNAL"
        assert error["data"]["id"] == 1
        assert "a bug" not in error["data"]["message"]  # no internals
        await stream.send({"op": "ping"})
        assert (await stream.next_of("pong"))["type"] == "pong"
