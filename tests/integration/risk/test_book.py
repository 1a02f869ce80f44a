"""The risk book in memory agrees with the database after bursts, and a halt drains the sender.

Admission reads no database: the book of open orders, positions and cash is kept in the
owner's memory (`risk.book`). After every kind of concurrent traffic it must hold exactly
what a fresh read of the database gives (both backends).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import FastAPI

from stocks_api.broker.protocol import OrderRequest
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.risk import gate as risk_gate
from stocks_api.risk.book import TradingBook
from stocks_api.settings import Settings
from tests.conftest import eventually, settle_app
from tests.factories import order_body, set_market
from tests.integration.risk.conftest import risk_settings, running


def _contents(book: TradingBook, account_id: str) -> tuple[Any, ...]:
    return (
        book.open_orders(),
        dict(book.positions(account_id)),
        book.cash(account_id),
        {symbol: book.open_qty(symbol) for symbol in book.open_symbols()},
    )


async def _matches_database(app: FastAPI) -> None:
    """The book now, and the book read afresh from the database, hold the same."""
    await settle_app(app)
    engine = app.state.risk
    account_id = app.state.accounts[0].account_id
    kept = _contents(engine.book, account_id)
    await risk_gate.load(engine)
    assert _contents(engine.book, account_id) == kept


async def test_the_book_matches_the_database_after_bursts(
    with_limits: Callable[..., Any],
) -> None:
    async with with_limits(max_position_value="1000000") as (app, http):
        engine = app.state.broker.engine
        set_market(engine, "189.99", "190.01", size=100_000, last="190.00")
        resting = order_body(qty="3", type="limit", limit_price="150.00", tif="gtc")
        bracket = order_body(
            qty="2",
            type="limit",
            limit_price="150.00",
            tif="gtc",
            take_profit={"limit_price": "250.00"},
            stop_loss={"stop_price": "100.00"},
        )
        # Fills, resting orders, brackets, sells and a duplicate id, all at once.
        bodies = (
            [order_body(qty="5") for _ in range(20)]
            + [dict(resting) for _ in range(10)]
            + [dict(bracket) for _ in range(5)]
            + [order_body(qty="1", side="sell") for _ in range(5)]
            + [order_body(qty="4", client_order_id="burst-dup") for _ in range(4)]
        )
        answers = await asyncio.gather(*(http.post("/api/v1/orders", json=b) for b in bodies))
        assert {a.status_code for a in answers} <= {200, 201}, [a.text for a in answers]
        await _matches_database(app)
        assert engine_book_has(app, qty=Decimal(20 * 5 - 5 + 4))

        # Then modifications and cancels of the resting ones, at once.
        listed = (await http.get("/api/v1/orders", params={"status": "open", "limit": 100})).json()
        working = [o for o in listed["items"] if o["parent_id"] is None]
        changes = [
            http.patch(f"/api/v1/orders/{o['id']}", json={"qty": "7"}) for o in working[::2]
        ] + [http.delete(f"/api/v1/orders/{o['id']}") for o in working[1::2]]
        answers = await asyncio.gather(*changes)
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        await _matches_database(app)

        # Then the market trades through the resting buys: fills move orders to positions.
        set_market(engine, "149.00", "149.50", size=100_000, last="149.25")
        await _matches_database(app)
        set_market(engine, "259.00", "260.00", size=100_000, last="259.50")
        await _matches_database(app)
        assert await http.delete("/api/v1/orders")
        await _matches_database(app)


def engine_book_has(app: FastAPI, *, qty: Decimal) -> bool:
    account_id = app.state.accounts[0].account_id
    held: Decimal | None = app.state.risk.book.positions(account_id).get("AAPL")
    return held == qty


class SlowSim(SimBroker):
    """The simulator, taking a moment over each new order (the way to IB is not instant).

    Quotes come slower and slower, so that orders reach admission one after the other.
    `placed` lists the orders that reached the broker, as each call returns.
    """

    placed: list[str]
    quotes = 0

    async def get_quote(self, symbol: str) -> Any:
        self.quotes += 1
        await asyncio.sleep(0.01 * self.quotes)
        return await super().get_quote(symbol)

    async def place_order(self, order: OrderRequest) -> str:
        await asyncio.sleep(0.05)
        broker_id = await super().place_order(order)
        self.placed.append(order.client_order_id)
        return broker_id


def _slow_sim(settings: Settings) -> SlowSim:
    broker = SlowSim(settings.sim, calendar=settings.session.calendar(), tick=False)
    broker.placed = []
    return broker


async def test_nothing_reaches_the_broker_after_halt_returns(clean_database: str) -> None:
    async with running(risk_settings(clean_database), _slow_sim) as (app, http):
        broker: SlowSim = app.state.broker
        set_market(broker.engine, "189.99", "190.01", last="190.00")
        orders = [
            asyncio.create_task(http.post("/api/v1/orders", json=order_body(qty="1")))
            for _ in range(40)
        ]
        # Some on their way, others still being admitted.
        await eventually(lambda: len(broker.placed) >= 3, what="orders on their way")
        halted = await http.post("/api/v1/risk/halt", json={"reason": "drain test"})
        assert halted.status_code == 200, halted.text
        placed_at_halt = len(broker.placed)
        answers = await asyncio.gather(*orders)
        assert len(broker.placed) == placed_at_halt
        sent = [a for a in answers if a.status_code == 201]
        refused = [a for a in answers if a.status_code == 422]
        assert len(sent) + len(refused) == len(answers), [a.text for a in answers]
        assert len(sent) == placed_at_halt
        assert sent  # the halt came in the middle of the burst
        assert refused
        for answer in refused:
            error = answer.json()["error"]
            assert error["code"] == "RISK_REJECTED"
            assert [d["check"] for d in error["details"]] == ["trading_state"]
        # Every order is stored, none lost: sent ones at the broker, the rest refused.
        listed = (await http.get("/api/v1/orders", params={"limit": 100})).json()["items"]
        assert len(listed) == len(answers)
        assert sum(o["status"] == "rejected" for o in listed) == len(refused)
        await _matches_database(app)
