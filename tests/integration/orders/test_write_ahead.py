"""Group commit of the write-ahead: one transaction per batch, one answer per order (both backends).

A duplicate or a failing row never fails its batch-mates; every written order has its
`created` event; the objects come back persistent, with their ids, and nothing is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.core.config import DatabaseSettings
from stocks_api.core.database import Database, utcnow
from stocks_api.orders.models import Order, OrderEvent
from stocks_api.orders.write_ahead import WriteAhead


def _order(client_order_id: str, *, request_hash: str | None = "h" * 64) -> Order:
    now = utcnow()
    return Order(
        client_order_id=client_order_id,
        request_hash=request_hash,
        symbol="AAPL",
        side="buy",
        order_type="market",
        qty=Decimal("1.5"),
        tif="day",
        outside_rth=False,
        status="pending_submit",
        filled_qty=Decimal(0),
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
async def sessions(clean_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    db = Database(DatabaseSettings(url=clean_database))
    try:
        yield db.sessionmaker
    finally:
        await db.dispose()


async def test_a_batch_answers_each_order_on_its_own(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    writer = WriteAhead(sessions)
    async with sessions() as session:
        assert await writer.write(session, _order("old"), [])
    parent = _order("parent")
    legs = [_order("leg-tp"), _order("leg-sl")]
    for leg in legs:
        leg.oca_group = "oca-1"
    async with sessions() as session:
        # All queued before the writer runs: one batch.
        results = await asyncio.gather(
            writer.write(session, _order("fresh"), []),
            writer.write(session, _order("broken", request_hash=None), []),  # NOT NULL
            writer.write(session, _order("old"), []),  # written before
            writer.write(session, _order("twice"), []),
            writer.write(session, _order("twice"), []),  # the same id in the same batch
            writer.write(session, parent, legs),
            return_exceptions=True,
        )
        assert results[0] is True
        assert isinstance(results[1], IntegrityError)
        assert results[2:] == [False, True, False, True]
        # Persistent as written: ids set, the family known, no read needed.
        assert parent.id is not None
        assert [leg.parent_id for leg in legs] == [parent.id, parent.id]
        assert parent.legs == legs
        assert parent in session
    async with sessions() as session:
        stored = dict((await session.execute(select(Order.client_order_id, Order.parent_id))).all())
        assert stored == {
            "old": None,
            "fresh": None,
            "twice": None,
            "parent": None,
            "leg-tp": parent.id,
            "leg-sl": parent.id,
        }
        events = dict(
            (
                await session.execute(
                    select(OrderEvent.order_id, func.count())
                    .where(OrderEvent.kind == "created")
                    .group_by(OrderEvent.order_id)
                )
            ).all()
        )
        assert len(events) == 6
        assert set(events.values()) == {1}
        leg_event = await session.scalar(
            select(OrderEvent.payload).where(OrderEvent.order_id == legs[0].id)
        )
        assert leg_event == {"request_hash": "h" * 64, "parent_id": parent.id}


async def test_batches_of_any_size_use_a_few_statements(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Each batch size would be a statement of its own (prepared on every connection, kept
    in the caches): chunks of powers of two keep them to six, whatever the sizes."""
    writer = WriteAhead(sessions)
    inserts: set[str] = set()

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith('INSERT INTO "order"'):
            inserts.add(statement)

    engine = sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        written = 0
        for size in range(1, 71):
            async with sessions() as session:
                batch = [_order(f"s{size}-{i}") for i in range(size)]
                results = await asyncio.gather(*(writer.write(session, o, []) for o in batch))
                assert results == [True] * size
                assert len({o.id for o in batch}) == size
                written += size
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(inserts) <= 6  # 1, 2, 4, 8, 16 and 32 rows
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == written
