"""Limits at run time: validated, persisted, audited, surviving a restart, reset to settings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import order_body, set_market
from tests.integration.risk.conftest import failed_checks, risk_settings, running


async def test_changed_limits_apply_at_once_and_survive_a_restart(clean_database: str) -> None:
    settings = risk_settings(clean_database, max_order_qty="1000", price_band_percent="10")
    async with running(settings) as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        response = await http.put(
            "/api/v1/risk/limits",
            json={"max_order_qty": "5", "denied_symbols": ["gme", "AMC"], "reason": "tighten"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["max_order_qty"] == "5"
        assert response.json()["denied_symbols"] == ["AMC", "GME"]
        refused = await http.post("/api/v1/orders", json=order_body(qty="6"))
        assert failed_checks(refused) == ["max_order_qty"]

    async with running(settings) as (app, http):  # a restart on the same database
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        risk = (await http.get("/api/v1/risk")).json()
        assert risk["limits"]["max_order_qty"] == "5"
        assert risk["limits"]["price_band_percent"] == "10"
        assert risk["limit_sources"]["max_order_qty"] == "runtime"
        assert risk["limit_sources"]["price_band_percent"] == "settings"
        refused = await http.post("/api/v1/orders", json=order_body(qty="6"))
        assert failed_checks(refused) == ["max_order_qty"]

        events = (await http.get("/api/v1/risk/events")).json()["items"]
        assert len(events) == 1
        change = events[0]
        assert (change["kind"], change["actor"], change["reason"]) == (
            "limits_changed",
            "key:test",
            "tighten",
        )
        assert change["payload"]["old"] == {
            "max_order_qty": "1000",
            "denied_symbols": [],
        }
        assert change["payload"]["new"] == {
            "max_order_qty": "5",
            "denied_symbols": ["AMC", "GME"],
        }


async def test_null_switches_a_check_off_and_reset_brings_the_setting_back(
    clean_database: str,
) -> None:
    settings = risk_settings(clean_database, max_order_qty="5")
    async with running(settings) as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        off = await http.put("/api/v1/risk/limits", json={"max_order_qty": None})
        assert off.json()["max_order_qty"] is None
        assert (await http.post("/api/v1/orders", json=order_body(qty="6"))).status_code == 201

        reset = await http.post("/api/v1/risk/limits/reset", json={"reason": "back to .env"})
        assert reset.status_code == 200, reset.text
        assert reset.json()["max_order_qty"] == "5"
        refused = await http.post("/api/v1/orders", json=order_body(qty="6"))
        assert failed_checks(refused) == ["max_order_qty"]
        events = (await http.get("/api/v1/risk/events")).json()["items"]
        assert events[0]["kind"] == "limits_reset"
        assert events[0]["payload"]["old"]["max_order_qty"] is None
        assert events[0]["payload"]["new"]["max_order_qty"] == "5"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_orders_per_second": 51}, "max_orders_per_second"),
        ({"max_orders_per_second": 0}, "max_orders_per_second"),
        ({"max_orders_per_minute": 3001}, "max_orders_per_minute"),
        ({"max_order_qty": "-1"}, "max_order_qty"),
        ({"max_order_value": "abc"}, "max_order_value"),
        ({"max_leverage": "0"}, "max_leverage"),
        ({"price_band_percent": "101"}, "price_band_percent"),
        ({"denied_symbols": ["not a symbol"]}, "denied_symbols"),
        ({"max_daily_loss": "1"}, "max_daily_loss"),
        ({}, None),
        ({"reason": "nothing else"}, None),
    ],
)
async def test_invalid_limits_are_refused_and_change_nothing(
    clean_database: str, body: dict[str, Any], field: str | None
) -> None:
    async with running(risk_settings(clean_database, max_order_qty="5")) as (_, http):
        response = await http.put("/api/v1/risk/limits", json=body)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        if field is not None:
            assert any(field in detail["loc"] for detail in error["details"]), error
        risk = (await http.get("/api/v1/risk")).json()
        assert risk["limits"]["max_order_qty"] == "5"
        assert (await http.get("/api/v1/risk/events")).json()["items"] == []


async def test_reset_refuses_unknown_limit_names(clean_database: str) -> None:
    async with running(risk_settings(clean_database)) as (_, http):
        response = await http.post("/api/v1/risk/limits/reset", json={"limits": ["max_fun"]})
        assert response.status_code == 422
        assert "max_fun" in response.text
