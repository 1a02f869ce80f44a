"""Order prices off the US-equity increment are refused with a 422 naming it, on every route.

0.01 at or above $1.00, 0.0001 below (Reg NMS Rule 612, as IB enforces it); nothing is
written and nothing reaches the broker.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from stocks_api.broker.sim.engine import MatchingEngine
from tests.factories import count_orders, order_body, place, resting_limit_body

RULE = "(prices at or above 1.00 move in steps of 0.01, below 1.00 in steps of 0.0001)"


def _assert_refused_naming(response: httpx.Response, message: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert message in error["message"]
    assert any(message in detail["msg"] for detail in error["details"])


OFF_TICK_ORDERS: list[tuple[str, dict[str, Any], str]] = [
    (
        "limit",
        order_body(type="limit", limit_price="186.123"),
        f"limit_price 186.123 is not a multiple of the price increment 0.01 {RULE}",
    ),
    (
        "stop",
        order_body(type="stop", stop_price="200.005", side="buy"),
        "stop_price 200.005 is not a multiple of the price increment 0.01",
    ),
    (
        "stop limit below a dollar",
        order_body(type="stop_limit", stop_price="0.9", limit_price="0.90005"),
        "limit_price 0.90005 is not a multiple of the price increment 0.0001",
    ),
    (
        "trailing amount",
        order_body(type="trailing_stop", side="sell", trail_amount="1.255"),
        "trail_amount 1.255 is not a multiple of the price increment 0.01",
    ),
    (
        "bracket take profit",
        order_body(type="limit", limit_price="150", take_profit={"limit_price": "160.011"}),
        "take_profit.limit_price 160.011 is not a multiple of the price increment 0.01",
    ),
    (
        "bracket stop loss",
        order_body(type="limit", limit_price="150", stop_loss={"stop_price": "140.001"}),
        "stop_loss.stop_price 140.001 is not a multiple of the price increment 0.01",
    ),
    (
        "bracket stop-limit loss",
        order_body(
            type="limit",
            limit_price="150",
            stop_loss={"stop_price": "140", "limit_price": "139.999"},
        ),
        "stop_loss.limit_price 139.999 is not a multiple of the price increment 0.01",
    ),
]


@pytest.mark.parametrize(
    ("body", "message"), [pytest.param(b, m, id=name) for name, b, m in OFF_TICK_ORDERS]
)
async def test_an_order_off_the_increment_is_refused_and_nothing_written(
    client: httpx.AsyncClient, engine: MatchingEngine, body: dict[str, Any], message: str
) -> None:
    response = await client.post("/api/v1/orders", json=body)
    _assert_refused_naming(response, message)
    assert await count_orders(client) == 0
    assert engine.open_orders() == []


async def test_a_sub_penny_price_below_a_dollar_is_not_refused_for_its_increment(
    client: httpx.AsyncClient,
) -> None:
    # 0.9999 is on the 0.0001 grid; whatever else is said of it, it is not its increment.
    response = await client.post(
        "/api/v1/orders", json=order_body(type="limit", limit_price="0.9999")
    )
    assert "price increment" not in response.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"limit_price": "150.123"},
            f"limit_price 150.123 is not a multiple of the price increment 0.01 {RULE}",
            id="limit",
        ),
        pytest.param(
            {"qty": "2", "limit_price": "0.00005"},
            "limit_price 0.00005 is not a multiple of the price increment 0.0001",
            id="below a dollar",
        ),
    ],
)
async def test_a_change_off_the_increment_is_refused_and_the_order_unchanged(
    client: httpx.AsyncClient, engine: MatchingEngine, change: dict[str, str], message: str
) -> None:
    order = await place(client, **resting_limit_body(engine, qty="1"))
    response = await client.patch(f"/api/v1/orders/{order['id']}", json=change)
    _assert_refused_naming(response, message)
    after = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert Decimal(after["limit_price"]) == Decimal(order["limit_price"])
    assert Decimal(after["qty"]) == Decimal("1")
    [working] = engine.open_orders()
    assert working.request.limit_price == Decimal(order["limit_price"])
