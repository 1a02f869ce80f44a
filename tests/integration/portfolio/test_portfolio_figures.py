"""Buy, then partly sell: positions, summary and P&L agree with a hand calculation.

Hand calculation (commission USD 1.00 per order, the IBKR minimum):
  buy 100 AAPL at 190.00   cost 19,000.00 + 1.00, average cost 190.01
  sell 40 AAPL at 195.00   proceeds 7,800.00 - 1.00, realized 40 x 4.99 - 1.00 = 198.60
  last price 196.00        60 held: market value 11,760.00, unrealized 60 x 5.99 = 359.40
  cash 1,000,000 - 19,001.00 + 7,799.00 = 988,798.00; net liquidation 1,000,558.00
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx

from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.core.database import utcnow
from stocks_api.portfolio.models import AccountSnapshot
from tests.factories import place, set_market

ACCOUNT = "DU1234567"


async def _buy_then_partly_sell(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    set_market(engine, "189.99", "190.00", last="190.00")
    bought = await place(client, qty="100")
    assert bought["status"] == "filled"
    set_market(engine, "195.00", "195.01", last="195.00")
    sold = await place(client, side="sell", qty="40")
    assert sold["status"] == "filled"
    set_market(engine, "195.99", "196.01", last="196.00")
    await settle()


async def test_positions_agree_with_the_hand_calculation(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    await _buy_then_partly_sell(client, engine, settle)

    response = await client.get("/api/v1/positions/AAPL")
    assert response.status_code == 200, response.text
    position = response.json()
    assert {
        k: Decimal(position[k])
        for k in (
            "qty",
            "avg_cost",
            "market_price",
            "market_value",
            "unrealized_pnl",
            "realized_pnl",
        )
    } == {
        "qty": Decimal(60),
        "avg_cost": Decimal("190.01"),
        "market_price": Decimal("196.00"),
        "market_value": Decimal("11760.00"),
        "unrealized_pnl": Decimal("359.40"),
        "realized_pnl": Decimal("198.60"),
    }
    assert position["account_id"] == ACCOUNT
    listed = (await client.get("/api/v1/positions")).json()
    assert [p["symbol"] for p in listed] == ["AAPL"]
    assert listed[0] == position


async def test_summary_agrees_with_positions_and_cash(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    await _buy_then_partly_sell(client, engine, settle)

    response = await client.get(f"/api/v1/accounts/{ACCOUNT}/summary")
    assert response.status_code == 200, response.text
    summary = response.json()
    expected = {
        "cash": "988798.00",
        "market_value": "11760.00",
        "gross_position_value": "11760.00",
        "net_liquidation": "1000558.00",
        "initial_margin": "5880.00",
        "maintenance_margin": "2940.00",
        "available_funds": "994678.00",
        "excess_liquidity": "997618.00",
        "buying_power": "1989356.00",
        # ratios to 4 places (0.997062 and 0.011753 to the valuation's 6)
        "cushion": "0.9971",
        "leverage": "0.0118",
        "unrealized_pnl": "359.40",
        "realized_pnl": "198.60",
    }
    assert {k: summary[k] for k in expected} == expected  # money always to cents
    # net liquidation = cash + market value of the positions
    assert Decimal(summary["net_liquidation"]) == Decimal(summary["cash"]) + Decimal(
        summary["market_value"]
    )
    assert summary["is_paper"] is True
    assert summary["unpriced_symbols"] == []


async def test_pnl_splits_the_day_into_realized_and_unrealized(
    client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    await _buy_then_partly_sell(client, engine, settle)

    pnl = (await client.get(f"/api/v1/accounts/{ACCOUNT}/pnl")).json()
    assert Decimal(pnl["realized_pnl"]) == Decimal("198.60")
    assert Decimal(pnl["unrealized_pnl"]) == Decimal("359.40")
    # no snapshot before today's boundary: the day began with the starting cash
    assert Decimal(pnl["daily_pnl"]) == Decimal("558.00")


async def test_daily_pnl_resets_at_the_session_boundary(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    await _buy_then_partly_sell(client, engine, settle)
    pnl = (await client.get(f"/api/v1/accounts/{ACCOUNT}/pnl")).json()
    # The account was worth 1,000,300.00 at the last close: today made 258.00 of the 558.00.
    async with app.state.db.sessionmaker() as session, session.begin():
        session.add(
            AccountSnapshot(
                account_id=ACCOUNT,
                cash=Decimal("1000300.00"),
                gross_position_value=Decimal(0),
                net_liquidation=Decimal("1000300.00"),
                unrealized_pnl=Decimal(0),
                realized_pnl=Decimal(0),
                reason="interval",
                taken_at=app.state.calendar.last_close(utcnow()) - timedelta(seconds=1),
            )
        )
    after = (await client.get(f"/api/v1/accounts/{ACCOUNT}/pnl")).json()
    assert Decimal(after["daily_pnl"]) == Decimal("258.00")
    assert after["session_start"] == pnl["session_start"]


async def test_accounts_lists_the_paper_account(client: httpx.AsyncClient) -> None:
    accounts = (await client.get("/api/v1/accounts")).json()
    assert accounts == [
        {"account_id": ACCOUNT, "account_type": "margin", "currency": "USD", "is_paper": True}
    ]


async def test_an_unknown_account_is_a_404_envelope(client: httpx.AsyncClient) -> None:
    for path in ("summary", "pnl", "history"):
        response = await client.get(f"/api/v1/accounts/DU0000000/{path}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ACCOUNT_NOT_FOUND"


async def test_fills_leave_account_snapshots_in_the_history(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine, settle: Any
) -> None:
    await _buy_then_partly_sell(client, engine, settle)
    await app.state.snapshots.record("fill")
    page = (await client.get(f"/api/v1/accounts/{ACCOUNT}/history")).json()
    assert page["items"], page
    newest = page["items"][0]
    assert newest["reason"] == "fill"
    assert Decimal(newest["net_liquidation"]) == Decimal("1000558.00")
    assert Decimal(newest["cash"]) == Decimal("988798.00")
    assert all(item["account_id"] == ACCOUNT for item in page["items"])
