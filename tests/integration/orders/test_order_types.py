"""Trailing stops, DAY expiry, outside-RTH, fractional quantities and cash-account shorts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.core.config import SessionSettings
from tests.conftest import api_client, engine_of, make_key, make_settings, running_app
from tests.factories import order_body, place, resting_limit_body, set_market, wait_for_status

Settle = Callable[[], Awaitable[None]]


async def test_a_trailing_stop_ratchets_up_and_triggers_on_the_way_down(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Settle, broker_kind: str
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    await place(client, qty="10")
    order = await place(client, side="sell", qty="10", type="trailing_stop", trail_amount="1.00")
    assert order["status"] == "submitted"
    assert Decimal(order["trail_amount"]) == 1
    assert Decimal(order["stop_price"]) == Decimal("189.00")

    set_market(engine, "194.99", "195.00", last="195.00")  # stop follows to 194.00
    set_market(engine, "194.49", "194.50", last="194.50")  # above the stop: nothing happens
    assert (await client.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "submitted"
    set_market(engine, "193.99", "194.00", last="194.00")  # touches 194.00: triggered
    filled = await wait_for_status(client, order["id"], "filled")
    assert Decimal(filled["stop_price"]) == Decimal("194.00")
    assert Decimal(filled["avg_fill_price"]) == Decimal("193.99")
    events = (await client.get(f"/api/v1/orders/{order['id']}/events")).json()
    moves = [Decimal(e["payload"]["stop_price"]) for e in events if "stop_price" in e["payload"]]
    assert Decimal("194.00") in moves  # the ratchet is in the audit trail
    if broker_kind == "sim":  # the simulator reports the trigger; IB does not
        assert "stop triggered" in [e["reason"] for e in events]


async def test_a_trailing_percent_buy_stop_follows_the_market_down(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    set_market(engine, "99.99", "100.00", last="100.00")
    order = await place(client, qty="5", type="trailing_stop", trail_percent="2")
    assert Decimal(order["stop_price"]) == Decimal("102.00")
    set_market(engine, "89.99", "90.00", last="90.00")  # stop follows to 91.80
    set_market(engine, "91.79", "91.80", last="91.80")
    filled = await wait_for_status(client, order["id"], "filled")
    assert Decimal(filled["stop_price"]) == Decimal("91.80")


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "trailing_stop"},
        {"type": "trailing_stop", "trail_amount": "1", "trail_percent": "1"},
        {"type": "trailing_stop", "trail_percent": "100"},
        {"type": "trailing_stop", "trail_amount": "1", "stop_price": "10"},
        {"type": "trailing_stop", "trail_amount": "1", "tif": "ioc"},
        {"type": "market", "trail_amount": "1"},
    ],
)
async def test_bad_trailing_stops_are_refused(
    client: httpx.AsyncClient, fields: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/orders", json=order_body(**fields))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def _expired(broker_kind: str) -> str:
    """The status of an expired DAY order: IB has no "expired", it cancels and says why."""
    return "expired" if broker_kind == "sim" else "cancelled"


async def test_a_day_order_expires_and_the_expiry_is_an_order_event(
    client: httpx.AsyncClient, engine: MatchingEngine, broker_kind: str
) -> None:
    order = await place(client, **resting_limit_body(engine, tif="day"))
    gtc = await place(client, **resting_limit_body(engine))
    engine.expire_day_orders()
    wanted = _expired(broker_kind)
    expired = await wait_for_status(client, order["id"], wanted)
    assert expired["cancelled_at"]
    events = (await client.get(f"/api/v1/orders/{order['id']}/events")).json()
    assert events[-1]["to_status"] == wanted
    assert "expired" in events[-1]["reason"]
    assert (await client.get(f"/api/v1/orders/{gtc['id']}")).json()["status"] == "submitted"


class Clock:
    """A settable clock for the simulated broker."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# Regular hours 09:30-16:00 New York time, Monday to Friday.
NEW_YORK = SessionSettings(timezone="America/New_York", open="09:30", close="16:00")
# Tuesday 2026-11-24 15:59 in New York (EST, UTC-5): one minute before the close.
BEFORE_CLOSE = datetime(2026, 11, 24, 20, 59, tzinfo=UTC)


@asynccontextmanager
async def _app_at(
    database_url: str, broker_kind: str, clock: Clock
) -> AsyncIterator[tuple[httpx.AsyncClient, MatchingEngine]]:
    settings = make_settings(database_url, session=NEW_YORK)
    async with (
        running_app(settings, broker_kind, clock=clock) as app,
        api_client(app, await make_key(app)) as client,
    ):
        yield client, engine_of(app)


async def test_day_orders_expire_at_the_session_close(
    clean_database: str, broker_kind: str
) -> None:
    clock = Clock(BEFORE_CLOSE)
    async with _app_at(clean_database, broker_kind, clock) as (client, engine):
        day = await place(client, **resting_limit_body(engine, tif="day"))
        gtc = await place(client, **resting_limit_body(engine))
        engine.tick()
        assert (await client.get(f"/api/v1/orders/{day['id']}")).json()["status"] == "submitted"

        clock.now = BEFORE_CLOSE + timedelta(minutes=1)  # 16:00: the close
        engine.tick()
        wanted = _expired(broker_kind)
        expired = await wait_for_status(client, day["id"], wanted)
        assert expired["cancelled_at"]
        events = (await client.get(f"/api/v1/orders/{day['id']}/events")).json()
        assert events[-1]["to_status"] == wanted
        assert events[-1]["reason"].endswith("day order expired at the session close")
        assert (await client.get(f"/api/v1/orders/{gtc['id']}")).json()["status"] == "submitted"


async def test_outside_regular_hours_only_outside_rth_orders_work(
    clean_database: str, broker_kind: str
) -> None:
    clock = Clock(BEFORE_CLOSE + timedelta(hours=1))  # 17:00, after the close
    async with _app_at(clean_database, broker_kind, clock) as (client, engine):
        set_market(engine, "189.99", "190.00", last="190.00")
        waits = await place(client, qty="10")
        assert waits["status"] == "submitted"
        works = await place(client, qty="10", outside_rth=True)
        assert works["status"] == "filled"

        clock.now = BEFORE_CLOSE + timedelta(hours=17, minutes=31)  # Wednesday 09:30: open
        engine.tick()
        await wait_for_status(client, waits["id"], "filled")


async def test_fractional_quantities_need_a_fractional_symbol(
    clean_database: str, broker_kind: str
) -> None:
    settings = make_settings(clean_database, fractional_symbols="spy")
    async with (
        running_app(settings, broker_kind) as app,
        api_client(app, await make_key(app)) as client,
    ):
        refused = await client.post("/api/v1/orders", json=order_body(qty="1.5"))
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "INVALID_QUANTITY"
        assert "whole shares" in error["message"]
        assert error["details"][0]["loc"] == ["body", "qty"]
        accepted = await place(client, symbol="SPY", qty="0.5")
        assert accepted["status"] == "filled"
        too_fine = await client.post("/api/v1/orders", json=order_body(symbol="SPY", qty="0.00001"))
        assert too_fine.status_code == 422
        assert too_fine.json()["error"]["code"] == "INVALID_QUANTITY"
        assert (await client.get("/api/v1/orders")).json()["items"][0]["id"] == accepted["id"]


async def test_a_cash_account_cannot_sell_short(clean_database: str, broker_kind: str) -> None:
    settings = make_settings(clean_database, account_type="cash")
    async with (
        running_app(settings, broker_kind) as app,
        api_client(app, await make_key(app)) as client,
    ):
        short = await client.post("/api/v1/orders", json=order_body(side="sell"))
        assert short.status_code == 422
        assert short.json()["error"]["code"] == "SHORT_SALE_NOT_ALLOWED"
        await place(client, qty="10")
        await app.state.consumer.wait_applied(app.state.consumer.last_received, 5)
        covered = await place(client, side="sell", qty="10")
        assert covered["status"] == "filled"
        summary = (await client.get("/api/v1/accounts/DU1234567/summary")).json()
        assert summary["account_type"] == "cash"
        assert Decimal(summary["buying_power"]) == Decimal(summary["cash"])


async def test_two_concurrent_sells_of_a_whole_cash_holding_cannot_both_pass(
    clean_database: str, broker_kind: str
) -> None:
    settings = make_settings(clean_database, account_type="cash")
    async with (
        running_app(settings, broker_kind) as app,
        api_client(app, await make_key(app)) as client,
    ):
        set_market(engine_of(app), "189.99", "190.00", last="190.00")
        await place(client, qty="10")
        await app.state.consumer.wait_applied(app.state.consumer.last_received, 5)
        # Two resting sells of all 10 shares at once: the second would sell shares not held.
        body = order_body(side="sell", qty="10", type="limit", limit_price="199.00", tif="gtc")
        answers = await asyncio.gather(
            *(
                client.post("/api/v1/orders", json=body | {"client_order_id": f"s-{n}"})
                for n in (1, 2)
            )
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [201, 422], [answer.text for answer in answers]
        refused = next(answer for answer in answers if answer.status_code == 422)
        assert refused.json()["error"]["code"] == "SHORT_SALE_NOT_ALLOWED"
        open_sells = (await client.get("/api/v1/orders", params={"status": "open"})).json()
        assert [o["qty"] for o in open_sells["items"] if o["side"] == "sell"] == ["10"]
