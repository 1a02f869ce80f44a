"""Closing part of a position (`qty`, `percentage`) and every position at once, on both brokers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from stocks_api.broker.sim.engine import MatchingEngine
from tests.conftest import api_client, make_key
from tests.factories import place, resting_limit_body, set_market


async def _qty(client: httpx.AsyncClient, symbol: str = "AAPL") -> Decimal:
    response = await client.get(f"/api/v1/positions/{symbol}")
    assert response.status_code == 200, response.text
    return Decimal(response.json()["qty"])


async def test_a_quantity_or_a_percentage_closes_part_of_the_position(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    await place(client, qty="25")
    await settle()

    response = await client.delete("/api/v1/positions/AAPL", params={"qty": "10"})
    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["side"], order["type"], order["qty"], order["status"]) == (
        "sell",
        "market",
        "10",
        "filled",
    )
    await settle()
    assert await _qty(client) == 15

    # 50% of 15 whole shares is 7.5: rounded down to the quantity step, 7.
    response = await client.delete("/api/v1/positions/AAPL", params={"percentage": "50"})
    assert response.status_code == 201, response.text
    assert response.json()["qty"] == "7"
    await settle()
    assert await _qty(client) == 8

    response = await client.delete("/api/v1/positions/AAPL", params={"percentage": "100"})
    assert response.status_code == 201, response.text
    assert response.json()["qty"] == "8"
    await settle()
    assert await _qty(client) == 0


async def test_a_short_is_closed_in_part_by_buying(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    await place(client, side="sell", qty="12")
    await settle()
    response = await client.delete("/api/v1/positions/AAPL", params={"percentage": "25"})
    assert response.status_code == 201, response.text
    assert (response.json()["side"], response.json()["qty"]) == ("buy", "3")
    await settle()
    assert await _qty(client) == -9


async def test_bad_parts_are_clear_422s_and_place_nothing(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    await place(client, qty="3")
    await settle()
    before = (await client.get("/api/v1/orders")).json()["items"]
    cases = [
        ({"qty": "4"}, "more than the 3 held"),
        ({"percentage": "10"}, "less than its quantity step"),  # 0.3 of a share
        ({"qty": "1", "percentage": "50"}, "not both"),
        ({"percentage": "0"}, None),
        ({"percentage": "100.5"}, None),
        ({"qty": "-1"}, None),
        ({"qty": "abc"}, None),
        ({"qty": "1.5"}, None),  # whole shares only
        ({"percentage": "NaN"}, None),
        ({"qty": "Infinity"}, None),
        ({"percentage": "50", "side": "buy"}, None),  # unknown parameter
    ]
    for params, message in cases:
        response = await client.delete("/api/v1/positions/AAPL", params=params)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        if message is not None:
            assert message in error["message"] + str(error.get("details")), (params, error)
    assert (await client.get("/api/v1/orders")).json()["items"] == before
    assert await _qty(client) == 3


async def test_closing_every_position_cancels_open_orders_first_when_asked(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    set_market(engine, "409.99", "410.00", last="410.00", symbol="MSFT")
    await place(client, qty="5")
    await place(client, symbol="MSFT", side="sell", qty="2")
    resting = await place(client, **resting_limit_body(engine, qty="1"))
    await settle()

    response = await client.delete("/api/v1/positions", params={"cancel_orders": "true"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["failed"] == []
    assert result["cancel_failed"] == []
    assert [o["id"] for o in result["cancel_requested"]] == [resting["id"]]
    closing = {o["symbol"]: (o["side"], o["qty"]) for o in result["orders"]}
    assert closing == {"AAPL": ("sell", "5"), "MSFT": ("buy", "2")}
    await settle()
    assert (await client.get("/api/v1/positions")).json() == []
    current = (await client.get(f"/api/v1/orders/{resting['id']}")).json()
    assert current["status"] == "cancelled"

    nothing = await client.delete("/api/v1/positions")
    assert nothing.status_code == 200
    assert nothing.json() == {
        "orders": [],
        "failed": [],
        "cancel_requested": [],
        "cancel_failed": [],
    }


async def test_closing_needs_the_trade_scope(app: Any, engine: MatchingEngine) -> None:
    async with api_client(app, await make_key(app, "read")) as reader:
        for path in ("/api/v1/positions", "/api/v1/positions/AAPL"):
            response = await reader.delete(path, params={"percentage": "50"})
            assert response.status_code == 403, response.text


async def test_a_partial_close_is_judged_as_a_reduction(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    """While reducing, only what shrinks a position passes: a partial close does; while
    halted it is refused with the failed check, and nothing is closed."""
    set_market(engine, "189.99", "190.00", last="190.00")
    await place(client, qty="10")
    await settle()
    resumed = await client.post("/api/v1/risk/resume", json={"state": "reducing"})
    assert resumed.json()["state"] == "reducing"
    response = await client.delete("/api/v1/positions/AAPL", params={"qty": "4"})
    assert response.status_code == 201, response.text
    await settle()
    assert await _qty(client) == 6

    halted = await client.post("/api/v1/risk/halt", json={"reason": "test"})
    assert halted.status_code == 200, halted.text
    refused = await client.delete("/api/v1/positions/AAPL", params={"percentage": "50"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "RISK_REJECTED"
    everything = await client.delete("/api/v1/positions")
    assert everything.status_code == 200, everything.text
    assert [(f["symbol"], f["code"]) for f in everything.json()["failed"]] == [
        ("AAPL", "RISK_REJECTED")
    ]
    assert await _qty(client) == 6
