"""The circuit breaker: broker rejections in a row, or the daily loss, halt trading."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.factories import order_body, place, set_market, wait_for_status
from tests.integration.risk.conftest import failed_checks, refusing_sim, risk_settings, running


async def test_consecutive_synchronous_rejections_halt_trading(clean_database: str) -> None:
    settings = risk_settings(clean_database, max_consecutive_rejections=3)
    async with running(settings, refusing_sim) as (app, http):
        app.state.broker.refuse = "raise"
        for _ in range(2):
            response = await http.post("/api/v1/orders", json=order_body())
            assert response.json()["error"]["code"] == "BROKER_REJECTED"
        # An accepted order in between starts the count over.
        app.state.broker.refuse = None
        await place(http)
        app.state.broker.refuse = "raise"
        for _ in range(3):
            response = await http.post("/api/v1/orders", json=order_body())
            assert response.json()["error"]["code"] == "BROKER_REJECTED"

        risk = (await http.get("/api/v1/risk")).json()
        assert risk["state"] == "halted"
        assert risk["changed_by"] == "circuit_breaker"
        assert risk["reason"] == "3 consecutive broker rejections"
        event = (await http.get("/api/v1/risk/events")).json()["items"][0]
        assert event["payload"] == {"trigger": "broker_rejections", "consecutive": 3, "limit": 3}
        app.state.broker.refuse = None
        assert failed_checks(await http.post("/api/v1/orders", json=order_body())) == [
            "trading_state"
        ]
        # Resuming is a deliberate call, and the count starts over.
        await http.post("/api/v1/risk/resume", json={"reason": "permissions fixed"})
        assert (await http.get("/api/v1/risk")).json()["usage"][
            "consecutive_broker_rejections"
        ] == 0
        await place(http)


async def test_rejections_reported_later_by_the_broker_count_too(clean_database: str) -> None:
    settings = risk_settings(clean_database, max_consecutive_rejections=2)
    async with running(settings, refusing_sim) as (app, http):
        app.state.broker.refuse = "event"
        for _ in range(2):
            response = await http.post("/api/v1/orders", json=order_body())
            assert response.status_code == 201
            await wait_for_status(http, response.json()["id"], "rejected")
        risk = (await http.get("/api/v1/risk")).json()
        assert (risk["state"], risk["reason"]) == ("halted", "2 consecutive broker rejections")


async def test_risk_rejections_do_not_count_as_broker_rejections(clean_database: str) -> None:
    settings = risk_settings(clean_database, max_consecutive_rejections=1, max_order_qty="1")
    async with running(settings) as (_, http):
        for _ in range(3):
            response = await http.post("/api/v1/orders", json=order_body(qty="2"))
            assert failed_checks(response) == ["max_order_qty"]
        assert (await http.get("/api/v1/risk")).json()["state"] == "active"


async def test_the_daily_loss_halts_trading_without_any_order(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(daily_loss_limit="1000") as (app, http):
        engine = app.state.broker.engine
        set_market(engine, "189.99", "190.00", size=5000, last="190.00")
        await place(http, qty="500")
        queue = app.state.bus.subscribe()
        set_market(engine, "186.99", "187.00", size=5000, last="187.00")  # -1,500
        await app.state.snapshots.record(None)  # the background valuation pass

        risk = (await http.get("/api/v1/risk")).json()
        assert (risk["state"], risk["changed_by"]) == ("halted", "circuit_breaker")
        assert risk["reason"].startswith("daily loss")
        events = [queue.get_nowait() for _ in range(queue.qsize())]
        states = [data["state"] for topic, data in events if topic == "risk.state"]
        assert states == ["halted"]
        # Valuation passes publish the account too (positions follow the live quotes).
        topics = {t for t, _ in events}
        assert {"account.updated", "risk.state"} <= topics
        assert topics <= {"position.updated", "account.updated", "risk.state"}
        event = (await http.get("/api/v1/risk/events")).json()["items"][0]
        assert event["payload"]["trigger"] == "daily_loss"
        assert Decimal(event["payload"]["daily_pnl"]) <= Decimal(-1500)
        text = (await http.get("/metrics")).text
        assert "risk_daily_loss_limit 1000.0" in text
