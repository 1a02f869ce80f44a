"""Every order and modification passes the risk checks: rejections through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from tests.factories import order_body, place, set_market, wait_for_status
from tests.integration.risk.conftest import failed_checks, rejections_counted


async def _post(http: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    return await http.post("/api/v1/orders", json=order_body(**overrides))


async def test_a_rejected_order_is_stored_with_its_reasons_and_counted(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(max_order_qty="100") as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        before = rejections_counted((await http.get("/metrics")).text, "max_order_qty")
        at_limit = await _post(http, qty="100")
        assert at_limit.status_code == 201, at_limit.text
        over = await _post(http, qty="101", client_order_id="too-big")

        assert failed_checks(over) == ["max_order_qty"]
        detail = over.json()["error"]["details"][0]
        assert (detail["limit"], detail["value"]) == ("100", "101")
        stored = (await http.get("/api/v1/orders/by-client-id/too-big")).json()
        assert stored["id"] == detail["order_id"]
        assert stored["status"] == "rejected"
        assert stored["reject_reason"].startswith("risk: quantity 101 is above the limit 100")
        events = (await http.get(f"/api/v1/orders/{stored['id']}/events")).json()
        assert [e["kind"] for e in events] == ["risk_rejected"]
        assert events[0]["payload"]["checks"][0]["check"] == "max_order_qty"
        after = rejections_counted((await http.get("/metrics")).text, "max_order_qty")
        assert after == before + 1
        # The broker never saw it: only the admitted order reached the engine and filled.
        assert len((await http.get("/api/v1/fills")).json()["items"]) == 1


async def test_a_replay_of_a_rejected_order_is_rejected_again_and_stored_once(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(denied_symbols="AAPL") as (_, http):
        body = order_body(client_order_id="denied-1")
        first = await http.post("/api/v1/orders", json=body)
        again = await http.post("/api/v1/orders", json=body)
        assert failed_checks(first) == failed_checks(again) == ["symbol_deny_list"]
        assert first.json()["error"]["details"] == again.json()["error"]["details"]
        orders = (await http.get("/api/v1/orders")).json()["items"]
        assert len(orders) == 1
        # The same id with another body is still a conflict, not a second rejection.
        other = await http.post("/api/v1/orders", json={**body, "qty": "11"})
        assert other.status_code == 409


async def test_every_failed_check_is_listed(with_limits: Callable[..., Any]) -> None:
    async with with_limits(
        max_order_qty="10",
        max_order_value="1000",
        allowed_symbols="MSFT",
        price_band_percent="5",
    ) as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        response = await _post(http, qty="11", type="limit", limit_price="150")
        assert sorted(failed_checks(response)) == [
            "max_order_qty",
            "max_order_value",
            "price_band",
            "symbol_allow_list",
        ]


async def test_market_orders_are_valued_at_the_ask_or_the_bid(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(max_order_value="1900") as (app, http):
        engine = app.state.broker.engine
        set_market(engine, "189.00", "190.00", last="189.50")
        assert (await _post(http, qty="10")).status_code == 201  # 10 x 190.00 ask = limit
        set_market(engine, "189.00", "190.01", last="189.50")
        over = await _post(http, qty="10")
        assert failed_checks(over) == ["max_order_value"]
        assert over.json()["error"]["details"][0]["value"] == "1900.1"
        sell = await _post(http, side="sell", qty="10")  # 10 x 189.00 bid
        assert sell.status_code == 201, sell.text


async def test_the_price_band_guards_limit_stop_and_bracket_prices(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(price_band_percent="10") as (app, http):
        set_market(app.state.broker.engine, "99.99", "100.00", last="100.00")
        assert (await _post(http, type="limit", limit_price="90.00", tif="gtc")).status_code == 201
        assert failed_checks(await _post(http, type="limit", limit_price="89.99")) == ["price_band"]
        assert failed_checks(await _post(http, type="stop", stop_price="110.01")) == ["price_band"]
        bracket = await _post(
            http,
            type="limit",
            limit_price="99.00",
            take_profit={"limit_price": "120.00"},
            stop_loss={"stop_price": "95.00"},
        )
        assert failed_checks(bracket) == ["price_band"]
        assert "120" in bracket.json()["error"]["details"][0]["message"]


async def test_position_value_counts_open_orders_and_lets_reductions_through(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(max_position_value="19190") as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        await place(http, qty="50", type="limit", limit_price="185.00", tif="gtc")
        filled = await place(http, qty="50")
        await wait_for_status(http, filled["id"], "filled")
        # 50 held + 50 open, marked at 190: 19,000; one more (valued at 190 too) reaches 19,190.
        over = await _post(http, qty="2", type="limit", limit_price="180.00")
        assert failed_checks(over) == ["max_position_value"]
        assert (await _post(http, qty="1", type="limit", limit_price="180.00")).status_code == 201
        # Selling lowers the position: it passes however far above the limit it stands.
        await http.put("/api/v1/risk/limits", json={"max_position_value": "1000"})
        sell = await _post(http, side="sell", qty="10")
        assert sell.status_code == 201, sell.text


async def test_gross_exposure_and_leverage_look_across_symbols(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(max_gross_exposure="30000", max_leverage="0.0201") as (app, http):
        engine = app.state.broker.engine
        set_market(engine, "189.99", "190.00", last="190.00")
        set_market(engine, "99.99", "100.00", last="100.00", symbol="MSFT")
        await place(http, qty="100")  # 19,000 of AAPL
        response = await _post(http, symbol="MSFT", qty="120")  # +12,000 > 30,000; leverage > 2%
        assert sorted(failed_checks(response)) == ["max_gross_exposure", "max_leverage"]
        ok = await _post(http, symbol="MSFT", qty="10")  # 20,000 gross, leverage 0.02
        assert ok.status_code == 201, ok.text


async def test_a_modification_is_checked_and_a_refused_one_changes_nothing(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(max_order_qty="100", price_band_percent="10") as (app, http):
        engine = app.state.broker.engine
        set_market(engine, "189.99", "190.00", last="190.00")
        order = await place(http, qty="50", type="limit", limit_price="180.00", tif="gtc")
        refused = await http.patch(
            f"/api/v1/orders/{order['id']}", json={"qty": "101", "limit_price": "150.00"}
        )
        assert sorted(failed_checks(refused)) == ["max_order_qty", "price_band"]
        assert "modification" in refused.json()["error"]["message"]
        current = (await http.get(f"/api/v1/orders/{order['id']}")).json()
        assert (Decimal(current["qty"]), Decimal(current["limit_price"])) == (50, 180)
        working = engine.open_orders()[0].request
        assert (working.qty, working.limit_price) == (Decimal(50), Decimal(180))
        events = (await http.get(f"/api/v1/orders/{order['id']}/events")).json()
        refusal = next(e for e in events if e["kind"] == "modify_rejected")
        assert refusal["reason"].startswith("risk:")
        assert refusal["payload"]["requested"] == {"qty": "101", "limit_price": "150"}
        assert (
            await http.patch(f"/api/v1/orders/{order['id']}", json={"qty": "100"})
        ).status_code == 200


async def test_the_order_rate_is_limited_per_second_and_per_minute(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(max_orders_per_second=4, max_orders_per_minute=6) as (app, http):
        set_market(app.state.broker.engine, "189.99", "190.00", last="190.00")
        for _ in range(4):
            assert (await _post(http, qty="1")).status_code == 201
        assert failed_checks(await _post(http, qty="1")) == ["order_rate_per_second"]
        await _sleep_past_one_second()
        assert (await _post(http, qty="1")).status_code == 201
        # A bracket is three broker messages: 1 + 3 fits 4 a second, 5 + 3 passes 6 a minute.
        bracket = await _post(
            http,
            qty="1",
            type="limit",
            limit_price="189.00",
            take_profit={"limit_price": "195.00"},
            stop_loss={"stop_price": "185.00"},
        )
        assert failed_checks(bracket) == ["order_rate_per_minute"]
        usage = (await http.get("/api/v1/risk")).json()["usage"]
        assert usage["orders_last_minute"] == 5


async def _sleep_past_one_second() -> None:
    await asyncio.sleep(1.05)


async def test_daily_loss_blocks_new_risk_halts_once_and_lets_reductions_through(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(daily_loss_limit="5000") as (app, http):
        engine = app.state.broker.engine
        set_market(engine, "189.99", "190.00", size=5000, last="190.00")
        bought = await place(http, qty="1000")
        assert bought["status"] == "filled"
        set_market(engine, "184.99", "185.00", size=5000, last="185.00")  # down 5,000 + fees
        refused = await _post(http, qty="1")
        assert "daily_loss_limit" in failed_checks(refused)
        risk = (await http.get("/api/v1/risk")).json()
        assert risk["state"] == "halted"
        assert risk["changed_by"] == "circuit_breaker"
        assert "daily loss" in risk["reason"]
        assert Decimal(risk["usage"]["daily_loss_limit_used"]) >= 1

        resumed = await http.post("/api/v1/risk/resume", json={"reason": "closing out"})
        assert resumed.json()["state"] == "active"
        assert failed_checks(await _post(http, qty="1")) == ["daily_loss_limit"]
        assert (await _post(http, side="sell", qty="400")).status_code == 201  # reduces
        # The same session's breach does not halt again after a deliberate resume.
        await app.state.snapshots.record(None)
        assert (await http.get("/api/v1/risk")).json()["state"] == "active"
