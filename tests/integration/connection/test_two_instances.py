"""Two API instances on one database: only one trades, the other reads and stands by."""

from __future__ import annotations

import os
import socket
from contextlib import AsyncExitStack
from typing import Any

import httpx
from prometheus_client import REGISTRY

from tests.conftest import eventually
from tests.factories import order_body, place, resting_limit_body, wait_for_status
from tests.integration.connection.conftest import (
    instance,
    instance_settings,
    written,
)

HOST = socket.gethostname()
# Both instances run in this test process: the owner is described by this pid and host.
THIS_PROCESS = f"pid {os.getpid()} on {HOST}"


def assert_read_only(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "READ_ONLY_INSTANCE"
    assert error["message"] == (
        f"another API instance ({THIS_PROCESS}) owns the broker connection; this one is read-only"
    )
    assert error["details"][0]["owner"]["pid"] == os.getpid()


async def test_the_first_instance_owns_the_broker_and_the_second_is_read_only(
    clean_database: str,
) -> None:
    async with (
        instance(instance_settings(clean_database)) as owner,
        instance(instance_settings(clean_database)) as standby,
    ):
        health = await owner.health()
        assert health["role"] == "owner"
        assert health["status"] == "ok"
        assert health["ready"] is True
        assert health["checks"]["broker"]["status"] == "up"
        assert (await owner.http.get("/health/ready")).status_code == 200

        health = await standby.health()
        assert health["role"] == "standby"
        assert health["status"] == "read_only"
        assert health["ready"] is False
        assert health["checks"]["database"]["status"] == "up"
        broker_check = health["checks"]["broker"]
        assert broker_check["status"] == "standby"
        assert broker_check["kind"] == "sim"
        assert broker_check["owner"]["pid"] == os.getpid()
        assert broker_check["owner"]["host"] == HOST
        assert broker_check["owner"]["since"] is not None
        ready = await standby.http.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["role"] == "standby"

        mine = (await owner.http.get("/api/v1/broker")).json()
        assert (mine["role"], mine["read_only"], mine["connected"]) == ("owner", False, True)
        assert mine["owner"]["pid"] == os.getpid()
        theirs = (await standby.http.get("/api/v1/broker")).json()
        assert (theirs["role"], theirs["read_only"], theirs["connected"]) == (
            "standby",
            True,
            False,
        )
        assert theirs["owner"] == mine["owner"]  # the standby names the owner as it is
        assert theirs["owner"]["host"] == HOST
        # Accounts come from the database, as the owner registered them.
        assert [a["account_id"] for a in theirs["accounts"]] == ["DU1234567"]
        assert theirs["mode"] == "paper"

        assert owner.broker.sent == ["connect"]
        assert standby.broker.sent == [], "a standby never connects its broker"


async def test_the_standby_refuses_every_change_before_writing_anything(
    clean_database: str,
) -> None:
    async with (
        instance(instance_settings(clean_database)) as owner,
        instance(instance_settings(clean_database)) as standby,
    ):
        filled = await place(owner.http, qty="3")
        resting = await place(owner.http, **resting_limit_body(owner.broker.engine))
        assert (filled["status"], resting["status"]) == ("filled", "submitted")
        before = await written(standby.app)
        events_before = (await standby.http.get(f"/api/v1/orders/{resting['id']}/events")).json()
        owner_sent = list(owner.broker.sent)

        http = standby.http
        rid = resting["id"]
        refusals = [
            await http.post("/api/v1/orders", json=order_body(client_order_id="standby-1")),
            await http.post("/api/v1/orders", json=order_body(qty="0")),  # refused first
            await http.patch(f"/api/v1/orders/{rid}", json={"qty": "2"}),
            await http.delete(f"/api/v1/orders/{rid}"),
            await http.delete("/api/v1/orders"),
            await http.delete("/api/v1/positions/AAPL"),
            await http.post("/api/v1/risk/halt", json={"cancel_open_orders": True}),
            await http.post("/api/v1/risk/resume", json={"state": "reducing"}),
            await http.put("/api/v1/risk/limits", json={"max_order_qty": "1"}),
            await http.post("/api/v1/risk/limits/reset", json={}),
        ]
        for response in refusals:
            assert_read_only(response)

        # Authentication still comes first: a stranger learns nothing about the owner.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=standby.app), base_url="http://test"
        ) as anonymous:
            assert (await anonymous.post("/api/v1/orders", json=order_body())).status_code == 401

        assert await written(standby.app) == before, "no order, event or risk row written"
        gone = await http.get("/api/v1/orders/by-client-id/standby-1")
        assert gone.status_code == 404
        assert (await http.get(f"/api/v1/orders/{rid}/events")).json() == events_before
        risk = (await http.get("/api/v1/risk")).json()
        assert risk["state"] == "active"
        assert risk["limits"]["max_order_qty"] == "10000"
        assert standby.broker.sent == []
        assert owner.broker.sent == owner_sent, "nothing reached the owner's broker either"
        still = (await owner.http.get(f"/api/v1/orders/{rid}")).json()
        assert still["status"] == "submitted"
        assert len(owner.broker.engine.open_orders()) == 1

        # The owner trades on, untouched.
        assert (await place(owner.http, qty="1"))["status"] == "filled"


async def test_the_owners_orders_fills_and_positions_are_read_from_the_standby(
    clean_database: str,
) -> None:
    async with (
        instance(instance_settings(clean_database)) as owner,
        instance(instance_settings(clean_database)) as standby,
    ):
        order = await place(owner.http, qty="4", client_order_id="mine-1")
        assert order["status"] == "filled"

        async def both(path: str, **params: Any) -> tuple[Any, Any]:
            mine = await owner.http.get(path, params=params)
            theirs = await standby.http.get(path, params=params)
            assert (mine.status_code, theirs.status_code) == (200, 200), theirs.text
            return mine.json(), theirs.json()

        for path in (
            "/api/v1/orders",
            f"/api/v1/orders/{order['id']}",
            "/api/v1/orders/by-client-id/mine-1",
            f"/api/v1/orders/{order['id']}/events",
            "/api/v1/fills",
            "/api/v1/risk/events",
        ):
            mine, theirs = await both(path)
            assert theirs == mine, path
        fills = (await standby.http.get("/api/v1/fills")).json()["items"]
        assert [f["order_id"] for f in fills] == [order["id"]]

        mine, theirs = await both("/api/v1/positions")
        assert [(p["symbol"], p["qty"], p["avg_cost"]) for p in theirs] == [
            (p["symbol"], p["qty"], p["avg_cost"]) for p in mine
        ]
        assert theirs[0]["qty"] == "4"
        assert theirs[0]["market_price"] is None  # no broker to price it: shown, not failed
        assert (await standby.http.get("/api/v1/risk")).status_code == 200

        # Reads that need the broker say it is not available, as when a broker is down.
        bars = await standby.http.get("/api/v1/marketdata/bars/AAPL")
        assert bars.status_code == 503
        assert bars.json()["error"]["code"] == "BROKER_UNAVAILABLE"
        quotes = await standby.http.get("/api/v1/marketdata/quotes", params={"symbols": "AAPL"})
        assert quotes.status_code == 200
        assert [e["code"] for e in quotes.json()["errors"]] == ["BROKER_UNAVAILABLE"]


async def test_a_standby_promotes_within_seconds_and_trades(clean_database: str) -> None:
    owner_life = AsyncExitStack()
    owner = await owner_life.enter_async_context(instance(instance_settings(clean_database)))
    try:
        async with instance(instance_settings(clean_database)) as standby:
            resting = await place(owner.http, **resting_limit_body(owner.broker.engine))
            assert await standby.role() == "standby"
            await owner_life.aclose()  # the owner shuts down and releases the lock

            async def promoted() -> bool:
                return await standby.role() == "owner"

            await eventually(promoted, seconds=5, what="promotion")
            health = await standby.health()
            assert (health["status"], health["ready"]) == ("ok", True)
            assert health["checks"]["broker"]["status"] == "up"
            broker = (await standby.http.get("/api/v1/broker")).json()
            assert (broker["role"], broker["read_only"], broker["connected"]) == (
                "owner",
                False,
                True,
            )
            assert standby.broker.sent == ["connect"]
            assert REGISTRY.get_sample_value("broker_owner") == 1

            # Its broker never saw the old owner's resting order: reconciliation closes it.
            await wait_for_status(standby.http, resting["id"], "cancelled")
            events = (await standby.http.get(f"/api/v1/orders/{resting['id']}/events")).json()
            assert "no longer working at the broker" in events[-1]["reason"]

            order = await place(standby.http, qty="2")
            assert order["status"] == "filled"
            assert standby.broker.sent == ["connect", "place_order"]
    finally:
        await owner_life.aclose()
