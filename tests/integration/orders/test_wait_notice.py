"""An order placed while it cannot work says so: `notice` in the answer, an audit entry.

On the default (NYSE) calendar with the app's and the market's clock pinned; on both brokers,
since the notice comes from our calendar in the orders layer, not from the broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.core.config import SessionSettings
from stocks_api.orders.waiting import WAITING_EVENT
from tests.conftest import api_client, engine_of, make_key, make_settings, running_app, settle_app
from tests.factories import place, resting_limit_body, set_market

# Tuesday 2026-12-01 in New York (EST, UTC-5).
OPEN = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 10:00
AFTER_HOURS = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 17:00
NIGHT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 21:00
WAITS_FOR_OPEN = "waits for the regular session at 09:30 America/New_York (Wed 2026-12-02)"
WAITS_FOR_EXTENDED = "waits for the extended hours at 04:00 America/New_York (Wed 2026-12-02)"


class Clock:
    """A settable clock for the app and its market."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(OPEN)


@pytest.fixture
async def market(
    clean_database: str, broker_kind: str, clock: Clock
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, MatchingEngine]]:
    settings = make_settings(clean_database, session=SessionSettings())
    async with (
        running_app(settings, broker_kind, clock=clock) as app,
        api_client(app, await make_key(app)) as client,
    ):
        engine = engine_of(app)
        set_market(engine, "189.99", "190.00", last="190.00")
        yield app, client, engine


async def _waiting_events(client: httpx.AsyncClient, order_id: int) -> list[dict[str, Any]]:
    events = (await client.get(f"/api/v1/orders/{order_id}/events")).json()
    return [e for e in events if e["kind"] == WAITING_EVENT]


async def test_an_order_placed_on_a_closed_market_says_it_waits(
    market: tuple[Any, httpx.AsyncClient, MatchingEngine], clock: Clock
) -> None:
    _, client, _ = market
    clock.now = AFTER_HOURS

    order = await place(client, qty="10")

    assert order["status"] in {"pending_submit", "submitted"}
    assert order["notice"] == WAITS_FOR_OPEN
    (event,) = await _waiting_events(client, order["id"])
    assert event["reason"] == WAITS_FOR_OPEN
    assert event["payload"] == {"session": "regular", "until": "2026-12-02T14:30:00+00:00"}
    # The notice is the answer of placing; reading the order later shows its status only.
    assert (await client.get(f"/api/v1/orders/{order['id']}")).json()["notice"] is None


async def test_outside_rth_waits_only_outside_the_extended_hours(
    market: tuple[Any, httpx.AsyncClient, MatchingEngine], clock: Clock
) -> None:
    _, client, engine = market
    clock.now = AFTER_HOURS
    in_after_hours = await place(client, **resting_limit_body(engine, outside_rth=True))
    assert in_after_hours["notice"] is None
    assert await _waiting_events(client, in_after_hours["id"]) == []

    clock.now = NIGHT
    at_night = await place(client, **resting_limit_body(engine, outside_rth=True))
    assert at_night["notice"] == WAITS_FOR_EXTENDED
    (event,) = await _waiting_events(client, at_night["id"])
    assert event["reason"] == WAITS_FOR_EXTENDED


async def test_an_order_placed_in_the_session_has_no_notice(
    market: tuple[Any, httpx.AsyncClient, MatchingEngine],
) -> None:
    _, client, engine = market

    resting = await place(client, **resting_limit_body(engine))
    filled = await place(client, qty="10")

    assert resting["status"] == "submitted"
    assert resting["notice"] is None
    assert filled["notice"] is None
    assert await _waiting_events(client, resting["id"]) == []


async def test_a_replay_repeats_the_notice_without_a_second_entry(
    market: tuple[Any, httpx.AsyncClient, MatchingEngine], clock: Clock
) -> None:
    _, client, _ = market
    clock.now = AFTER_HOURS
    body = {"symbol": "AAPL", "side": "buy", "qty": "10", "type": "market"}
    first = await client.post("/api/v1/orders", json={**body, "client_order_id": "wait-1"})
    again = await client.post("/api/v1/orders", json={**body, "client_order_id": "wait-1"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["notice"] == again.json()["notice"] == WAITS_FOR_OPEN
    assert len(await _waiting_events(client, first.json()["id"])) == 1


async def test_closing_a_position_after_hours_says_it_waits_unless_outside_rth(
    market: tuple[Any, httpx.AsyncClient, MatchingEngine], clock: Clock
) -> None:
    app, client, _ = market
    await place(client, qty="10")  # filled in the session
    await settle_app(app)
    clock.now = AFTER_HOURS

    waits = await client.delete("/api/v1/positions/AAPL")

    assert waits.status_code == 201, waits.text
    assert waits.json()["notice"] == WAITS_FOR_OPEN
    assert len(await _waiting_events(client, waits.json()["id"])) == 1
    await client.delete(f"/api/v1/orders/{waits.json()['id']}")
    await settle_app(app)

    now = await client.delete("/api/v1/positions/AAPL", params={"outside_rth": "true"})

    assert now.status_code == 201, now.text
    assert now.json()["notice"] is None
