"""Money and averages read the same in REST and in events, to their documented places.

Three buys of 1 AAPL at 180.00, 180.01 and 180.01, each for the 1.00 minimum commission:
cost 540.02 + 3.00 = 543.02 for 3 shares, an average cost of 181.00666... a share. The
database keeps it to its 10 places (181.0066666667); the API shows 181.0067 and a cost
basis of 543.02 (3 x the stored average is 543.0200000001), commissions as 1.00.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from stocks_api.orders.models import Fill
from stocks_api.portfolio.models import Position
from tests.conftest import engine_of
from tests.factories import place, set_market
from tests.integration.streaming.conftest import authenticated

Live = tuple[FastAPI, httpx.AsyncClient, str]
CENTS = re.compile(r"^-?[0-9]+\.[0-9]{2}$")
FOUR_PLACES = re.compile(r"^-?[0-9]+\.[0-9]{4}$")
ACCOUNT_MONEY = (
    "cash",
    "market_value",
    "gross_position_value",
    "net_liquidation",
    "initial_margin",
    "maintenance_margin",
    "available_funds",
    "excess_liquidity",
    "buying_power",
    "unrealized_pnl",
    "realized_pnl",
)


async def _buy_three(app: FastAPI, http: httpx.AsyncClient) -> list[dict[str, Any]]:
    orders = []
    for ask in ("180.00", "180.01", "180.01"):
        set_market(engine_of(app), "179.99", ask, last=ask)
        order = await place(http, qty="1")
        assert order["status"] == "filled", order
        orders.append(order)
    return orders


def _is_final_position(message: dict[str, Any]) -> bool:
    return message["data"]["symbol"] == "AAPL" and Decimal(message["data"]["qty"]) == 3


async def test_positions_fills_and_account_show_the_documented_places(live: Live) -> None:
    app, http, base = live
    async with authenticated(base, app.state.test_key) as stream:
        await stream.subscribe("positions", "fills", "account")
        orders = await _buy_three(app, http)
        seen = await stream.until(
            _is_final_position, "position.updated", "fill.created", seconds=10
        )
        account_event = await stream.next_of("account.updated", seconds=10)

    event = seen[-1]["data"]
    rest = (await http.get("/api/v1/positions/AAPL")).json()
    listed = (await http.get("/api/v1/positions")).json()
    assert [p["avg_cost"] for p in listed] == ["181.0067"]
    for position in (rest, event):
        assert position["avg_cost"] == "181.0067"
        assert position["cost_basis"] == "543.02"
        assert position["realized_pnl"] == "0.00"
        assert CENTS.match(position["market_value"])
        assert CENTS.match(position["unrealized_pnl"])
        assert position["qty"] == "3"  # quantities exact, without trailing zeros

    fill_events = [m["data"] for m in seen if m["type"] == "fill.created"]
    assert [f["commission"] for f in fill_events] == ["1.00"] * 3
    assert [f["price"] for f in fill_events] == ["180", "180.01", "180.01"]  # as traded
    fills = (await http.get("/api/v1/fills")).json()["items"]
    assert [f["commission"] for f in fills] == ["1.00"] * 3
    trail = (await http.get(f"/api/v1/orders/{orders[0]['id']}/events")).json()
    fill_entries = [e["payload"] for e in trail if e["kind"] == "fill"]
    assert [(p["price"], p["commission"]) for p in fill_entries] == [("180", "1.00")]

    order = (await http.get(f"/api/v1/orders/{orders[1]['id']}")).json()
    assert order["avg_fill_price"] == "180.0100"
    assert order["limit_price"] is None
    assert order["filled_qty"] == "1"

    summary = await http.get(f"/api/v1/accounts/{account_event['data']['account_id']}/summary")
    for figures in (summary.json(), account_event["data"]):
        for name in ACCOUNT_MONEY:
            assert CENTS.match(figures[name]), (name, figures[name])
        assert FOUR_PLACES.match(figures["cushion"])
        assert FOUR_PLACES.match(figures["leverage"])

    # Only the presentation is rounded: the books keep every stored digit.
    async with app.state.db.sessionmaker() as session:
        position_row = (await session.scalars(select(Position))).one()
        assert position_row.avg_cost == Decimal("181.0066666667")
        assert {row.commission for row in await session.scalars(select(Fill))} == {Decimal(1)}
