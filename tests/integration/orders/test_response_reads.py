"""The response to an order is built from what the consumer applied, not read back (issue 23).

The consumer keeps the committed state of the orders it applied; the request that placed
an order answers with it. Counted here: the statements that read the order table while one
market order is placed and filled, and the answer against the stored row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import api_client, engine_of, make_key, make_settings, running_app
from tests.factories import order_body, resting_limit_body, set_market

ORDER_READ = re.compile(r'^\s*SELECT\b.*\bFROM "order"', re.IGNORECASE | re.DOTALL)


@contextmanager
def order_reads(app: FastAPI) -> Iterator[list[str]]:
    """The SELECTs of the order table the app runs meanwhile."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if ORDER_READ.match(statement):
            seen.append(" ".join(statement.split())[:120])

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_a_filled_order_is_answered_without_reading_it_back(
    clean_database: str, broker_kind: str
) -> None:
    async with (
        running_app(make_settings(clean_database), broker_kind) as app,
        api_client(app, await make_key(app)) as http,
    ):
        set_market(engine_of(app), "189.99", "190.00", size=5000, last="190.00")
        await http.post("/api/v1/orders", json=order_body(qty="1"))  # warm: contract, marks
        with order_reads(app) as reads:
            response = await http.post("/api/v1/orders", json=order_body(qty="2"))
        assert response.status_code == 201, response.text
        answer = response.json()
        assert answer["status"] == "filled"
        # The consumer's load of the order, nothing else: the risk gate reads its book in
        # memory, and the write-ahead's INSERT returns what the response needs.
        assert len(reads) == 1, reads
        stored = (await http.get(f"/api/v1/orders/{answer['id']}")).json()
        assert answer == stored


async def test_a_modification_is_answered_with_the_brokers_applied_state(
    client: httpx.AsyncClient, engine: Any
) -> None:
    order = (await client.post("/api/v1/orders", json=resting_limit_body(engine, qty="5"))).json()
    changed = await client.patch(f"/api/v1/orders/{order['id']}", json={"qty": "7"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["qty"] == "7"
    assert changed.json() == (await client.get(f"/api/v1/orders/{order['id']}")).json()
    cancelled = await client.delete(f"/api/v1/orders/{order['id']}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] in ("pending_cancel", "cancelled")
    final = (await client.get(f"/api/v1/orders/{order['id']}")).json()
    assert final["status"] == "cancelled"
