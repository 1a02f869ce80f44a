"""Trading states and the kill switch: halt (cancel, flatten), reducing, resume, who and why."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.conftest import api_client, make_key
from tests.factories import order_body, place, set_market, wait_for_status
from tests.integration.risk.conftest import failed_checks


async def test_halt_stops_every_order_and_modification_but_not_cancels(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits() as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        resting = await place(http, type="limit", limit_price="185.00", tif="gtc")
        halted = await http.post("/api/v1/risk/halt", json={"reason": "news"})
        assert halted.status_code == 200, halted.text
        assert halted.json()["state"]["state"] == "halted"
        assert halted.json()["cancel_requested"] == []

        assert failed_checks(await http.post("/api/v1/orders", json=order_body())) == [
            "trading_state"
        ]
        sell = await http.post("/api/v1/orders", json=order_body(side="sell"))
        assert failed_checks(sell) == ["trading_state"]
        modify = await http.patch(f"/api/v1/orders/{resting['id']}", json={"qty": "11"})
        assert failed_checks(modify) == ["trading_state"]
        cancel = await http.delete(f"/api/v1/orders/{resting['id']}")
        assert cancel.status_code == 200
        await wait_for_status(http, resting["id"], "cancelled")


async def test_halt_can_cancel_every_open_order_at_once(with_limits: Callable[..., Any]) -> None:
    async with with_limits() as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        resting = [
            await place(http, type="limit", limit_price=f"18{i}.00", tif="gtc") for i in range(3)
        ]
        bracket = await place(
            http,
            type="limit",
            limit_price="186.00",
            take_profit={"limit_price": "195.00"},
            stop_loss={"stop_price": "180.00"},
        )
        response = await http.post(
            "/api/v1/risk/halt", json={"reason": "kill", "cancel_open_orders": True}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        expected = (
            {o["id"] for o in resting} | {bracket["id"]} | {leg["id"] for leg in bracket["legs"]}
        )
        assert set(body["cancel_requested"]) == expected
        assert body["cancel_failed"] == []
        for order_id in expected:
            await wait_for_status(http, order_id, "cancelled")
        assert app.state.broker.engine.open_orders() == []


async def test_halt_can_flatten_every_position(with_limits: Callable[..., Any]) -> None:
    async with with_limits(max_order_qty="100") as (app, http):
        engine = app.state.broker.engine
        set_market(engine, "189.99", "190.00", size=5000, last="190.00")
        set_market(engine, "99.99", "100.00", size=5000, last="100.00", symbol="MSFT")
        await place(http, qty="100")
        await place(http, symbol="MSFT", side="sell", qty="60")
        await place(http, type="limit", limit_price="185.00", tif="gtc")
        # A position above max_order_qty still closes: the kill switch skips size limits.
        await http.put("/api/v1/risk/limits", json={"max_order_qty": "10"})

        response = await http.post("/api/v1/risk/halt", json={"flatten_positions": True})
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["cancel_requested"]) == 1  # flattening cancels first
        assert len(body["flatten_orders"]) == 2
        assert body["flatten_failed"] == []
        for order_id in body["flatten_orders"]:
            await wait_for_status(http, order_id, "filled")
        positions = (await http.get("/api/v1/positions")).json()
        assert positions == []
        assert (await http.get("/api/v1/risk")).json()["state"] == "halted"


async def test_reducing_admits_only_what_shrinks_a_position(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits() as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        await place(http, qty="100")
        resumed = await http.post("/api/v1/risk/resume", json={"state": "reducing"})
        assert resumed.json()["state"] == "reducing"

        assert failed_checks(await http.post("/api/v1/orders", json=order_body())) == [
            "trading_state"
        ]
        flip = await http.post("/api/v1/orders", json=order_body(side="sell", qty="101"))
        assert failed_checks(flip) == ["trading_state"]
        other_symbol = await http.post("/api/v1/orders", json=order_body(symbol="MSFT"))
        assert failed_checks(other_symbol) == ["trading_state"]
        resting = await place(
            http, side="sell", qty="60", type="limit", limit_price="195.00", tif="gtc"
        )
        # The open sell counts: 60 + 41 would leave the account short.
        more = await http.post("/api/v1/orders", json=order_body(side="sell", qty="41"))
        assert failed_checks(more) == ["trading_state"]
        assert (
            await http.post("/api/v1/orders", json=order_body(side="sell", qty="40"))
        ).status_code == 201
        grow = await http.patch(f"/api/v1/orders/{resting['id']}", json={"qty": "61"})
        assert failed_checks(grow) == ["trading_state"]
        assert (
            await http.patch(f"/api/v1/orders/{resting['id']}", json={"qty": "50"})
        ).status_code == 200


async def test_state_changes_need_admin_and_are_audited(with_limits: Callable[..., Any]) -> None:
    async with with_limits() as (app, http):
        trader = api_client(app, await make_key(app, "read", "trade", name="bot"))
        async with trader:
            refused = await trader.post("/api/v1/risk/halt", json={})
            assert refused.status_code == 403
            assert (await trader.post("/api/v1/risk/resume")).status_code == 403
            assert (
                await trader.put("/api/v1/risk/limits", json={"max_order_qty": 5})
            ).status_code == 403
            assert (await trader.get("/api/v1/risk")).status_code == 200
        await http.post("/api/v1/risk/halt", json={"reason": "lunch"})
        await http.post("/api/v1/risk/resume")
        events = (await http.get("/api/v1/risk/events")).json()["items"]
        assert [(e["kind"], e["from_state"], e["to_state"]) for e in events] == [
            ("resume", "halted", "active"),
            ("halt", "active", "halted"),
        ]
        assert events[1]["reason"] == "lunch"
        assert events[1]["actor"] == events[0]["actor"] == "key:test"
        state = (await http.get("/api/v1/risk")).json()
        assert (state["state"], state["changed_by"]) == ("active", "key:test")
        assert state["reason"] == "resumed to active"


async def test_a_halt_is_announced_on_the_bus_and_in_metrics(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits() as (app, http):
        queue = app.state.bus.subscribe()
        await http.post("/api/v1/risk/halt", json={"reason": "drill"})
        topic, data = queue.get_nowait()
        assert topic == "risk.state"
        assert (data["state"], data["reason"]) == ("halted", "drill")
        text = (await http.get("/metrics")).text
        assert 'risk_trading_state{state="halted"} 1.0' in text
        assert 'risk_trading_state{state="active"} 0.0' in text


async def test_risk_shows_state_limits_and_usage(with_limits: Callable[..., Any]) -> None:
    async with with_limits(max_order_qty="500", daily_loss_limit="10000") as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        await place(http, qty="100")
        await place(http, type="limit", limit_price="185.00", tif="gtc")
        risk = (await http.get("/api/v1/risk")).json()
        assert risk["state"] == "active"
        assert risk["limits"]["max_order_qty"] == "500"
        assert risk["limits"]["max_order_value"] is None
        assert risk["limit_sources"]["max_order_qty"] == "settings"
        usage = risk["usage"]
        assert usage["account_id"] == "DU1234567"
        assert Decimal(usage["gross_exposure"]) == Decimal("19000")
        assert Decimal(usage["gross_exposure_with_open_orders"]) == Decimal("20900")
        assert Decimal(usage["daily_pnl"]) < 0  # commissions
        assert usage["orders_last_minute"] == 2
        # Both within the last second unless the machine took longer than that to place
        # them and ask (it does, loaded, in CI): the window is wall-clock time.
        assert 1 <= usage["orders_last_second"] <= 2
        assert Decimal(usage["leverage"]) > 0
