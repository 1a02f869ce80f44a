"""The broker event consumer applies events idempotently and never applies an illegal step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy

from stocks_api.broker.protocol import BrokerOrderStatus, Execution, OrderStatusUpdate, Side
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.core.config import DatabaseSettings
from stocks_api.core.database import Database
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.portfolio.models import Account, Position
from tests.factories import place, resting_limit_body

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def execution(order: dict[str, Any], exec_id: str, qty: str, price: str) -> Execution:
    return Execution(
        exec_id=exec_id,
        client_order_id=order["client_order_id"],
        broker_order_id=order["broker_order_id"],
        account_id="DU1234567",
        symbol=order["symbol"],
        side=Side(order["side"]),
        qty=Decimal(qty),
        price=Decimal(price),
        commission=Decimal("1.00"),
        ts=NOW,
    )


def status(order: dict[str, Any], value: BrokerOrderStatus, filled: str = "0") -> OrderStatusUpdate:
    return OrderStatusUpdate(
        client_order_id=order["client_order_id"],
        broker_order_id=order["broker_order_id"],
        status=value,
        filled_qty=Decimal(filled),
        remaining_qty=Decimal(order["qty"]) - Decimal(filled),
        ts=NOW,
    )


async def test_replayed_execution_is_stored_once(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    order = await place(client, **resting_limit_body(engine, qty="10"))
    fill = execution(order, "X-1", "4", "100.5")
    await app.state.consumer.apply([fill, fill])
    await app.state.consumer.apply([fill])
    current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert current["filled_qty"] == "4"
    assert current["status"] == "partially_filled"
    fills = (await client.get("/api/v1/fills", params={"order_id": order["id"]})).json()["items"]
    assert [f["exec_id"] for f in fills] == ["X-1"]


async def test_filled_status_before_its_execution_waits_for_the_fill(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    # IB may report "Filled" before execDetails; quantities follow the stored fills.
    order = await place(client, **resting_limit_body(engine, qty="10"))
    await app.state.consumer.apply([status(order, BrokerOrderStatus.FILLED, "10")])
    assert (await client.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "submitted"
    await app.state.consumer.apply([execution(order, "X-2", "10", "101")])
    current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert current["status"] == "filled"
    assert current["avg_fill_price"] == "101.0000"  # averages to 4 places


async def test_late_fill_on_a_cancelled_order_is_kept_but_status_stays(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    order = await place(client, **resting_limit_body(engine, qty="10"))
    await client.delete(f"/api/v1/orders/{order['id']}")
    await app.state.consumer.apply([execution(order, "X-3", "2", "99")])
    current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert current["status"] == "cancelled"
    assert current["filled_qty"] == "2", "a fill is never dropped"
    events = (await client.get(f"/api/v1/orders/{order['id']}/events")).json()
    assert events[-1]["kind"] == "illegal_transition"
    assert events[-1]["to_status"] == "cancelled"


async def test_illegal_status_is_not_applied(app: Any, client: httpx.AsyncClient) -> None:
    order = await place(client)
    assert order["status"] == "filled"
    await app.state.consumer.apply([status(order, BrokerOrderStatus.CANCELLED)])
    current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert current["status"] == "filled"
    events = (await client.get(f"/api/v1/orders/{order['id']}/events")).json()
    assert events[-1]["kind"] == "illegal_transition"


async def test_event_for_unknown_order_is_ignored(app: Any, client: httpx.AsyncClient) -> None:
    stray = {
        "client_order_id": "nobody",
        "broker_order_id": "B-1",
        "symbol": "AAPL",
        "side": "buy",
        "qty": "1",
    }
    await app.state.consumer.apply(
        [execution(stray, "X-4", "1", "1"), status(stray, BrokerOrderStatus.SUBMITTED)]
    )
    assert (await client.get("/api/v1/fills")).json()["items"] == []


async def test_domain_events_are_published_after_commit(
    app: Any, client: httpx.AsyncClient
) -> None:
    queue = app.state.bus.subscribe()
    order = await place(client)
    seen = []
    while not queue.empty():
        topic, data = queue.get_nowait()
        seen.append((topic, data.get("status"), data.get("order_id", data.get("id"))))
    assert ("fill.created", None, order["id"]) in seen
    assert ("order.updated", "filled", order["id"]) in seen


async def test_batches_of_any_size_use_the_same_statements(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    """The consumer's statements do not depend on the batch size (each size would be a
    prepared statement of its own on every connection): a handful for 1 to 16 fills."""
    orders = [await place(client, **resting_limit_body(engine, qty="100")) for _ in range(16)]
    # A consumer of its own on an engine of its own: every statement seen is the consumer's.
    url = app.state.db.engine.url.render_as_string(hide_password=False)
    db = Database(DatabaseSettings(url=url))
    consumer = BrokerEventConsumer(sessionmaker=db.sessionmaker, bus=app.state.bus)
    app.state.bus.subscribe()  # someone listens: payloads built, bracket legs read
    by_size: dict[int, set[str]] = {}

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        by_size.setdefault(size, set()).add(statement)

    sqlalchemy.event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        for size in range(1, len(orders) + 1):
            batch = [execution(o, f"N-{size}-{o['id']}", "1", "100") for o in orders[:size]]
            # One replayed execution in each batch: found stored, not booked again.
            await consumer.apply([*batch, batch[0]])
    finally:
        await db.dispose()
    everything = set().union(*by_size.values())
    fill_inserts = {s for s in everything if s.startswith("INSERT INTO fill")}
    assert len(fill_inserts) == 5  # chunks of 1, 2, 4, 8 and 16 fills
    small = set().union(*(by_size[n] for n in range(1, 9)))
    # Beyond 8 fills, a batch needs nothing new but the chunk of 16.
    assert len(everything - small) == 1
    assert len(everything - fill_inserts) <= 10, "\n".join(sorted(everything))
    filled = {o["id"]: 16 - i for i, o in enumerate(orders)}  # the first one in every batch
    for order in orders:
        current = (await client.get(f"/api/v1/orders/{order['id']}")).json()
        assert Decimal(current["filled_qty"]) == filled[order["id"]]
    position = (await client.get("/api/v1/positions/AAPL")).json()
    assert Decimal(position["qty"]) == sum(filled.values())


async def test_a_fill_for_an_unregistered_account_is_booked_against_a_new_one(
    app: Any, client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    """Nothing is lost: the account is created from zero cash, then kept up to date."""
    order = await place(client, **resting_limit_body(engine, qty="10"))
    first = replace(execution(order, "U-1", "4", "100"), account_id="DU7777777")
    second = replace(execution(order, "U-2", "6", "101"), account_id="DU7777777")
    await app.state.consumer.apply([first])
    await app.state.consumer.apply([second])  # the account exists now: updated
    async with app.state.db.sessionmaker() as session:
        account = await session.get(Account, "DU7777777")
        assert account is not None
        # Bought 4 @ 100 and 6 @ 101, 1.00 commission each.
        assert account.cash == Decimal("-1008.00")
        assert (account.initial_cash, account.realized_pnl) == (0, 0)
        position = await session.scalar(
            sqlalchemy.select(Position).where(Position.account_id == "DU7777777")
        )
        assert position is not None
        assert (position.symbol, position.qty) == ("AAPL", Decimal(10))
        assert position.avg_cost == Decimal("100.8")
        assert position.opened_at is not None
    fills = (await client.get("/api/v1/fills", params={"order_id": order["id"]})).json()["items"]
    assert sorted(f["exec_id"] for f in fills) == ["U-1", "U-2"]
