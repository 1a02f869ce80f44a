"""Group commit of the write-ahead: new orders admitted together are written in one transaction.

An order's row (with its bracket legs and their `created` events) must be committed
before the broker sees it. Writing each in its own transaction makes every order wait
for a commit of its own; here the orders admitted while a batch is being written go
together in the next one: one transaction, Core `INSERT ... ON CONFLICT (client_order_id)
DO NOTHING RETURNING` for orders and legs (in chunks of fixed sizes, `core.sql`), one
executemany for their events, no ORM unit of work. Each order gets its own answer:
written, or not written because its `client_order_id` exists already (the caller
replays that order); a batch that fails for another reason is written again order by
order, so one bad row fails only its own request. The write-ahead guarantee is
unchanged: the caller sends the order to the broker only after `write` returns True,
i.e. after the commit.

After the commit the written objects become persistent in the caller's session (their
ids set, nothing read back), so the rest of the request works with them as if the ORM
had written them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from sqlalchemy import Insert, Table, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from stocks_api.core.sql import insert_returning
from stocks_api.orders.models import Order, OrderEvent

log = structlog.get_logger(__name__)

# Orders per transaction at most: a few hundred rows keep every statement well within
# the parameter limits of both backends (SQLite: 32,766).
MAX_BATCH = 200

_ORDER_TABLE = cast(Table, Order.__table__)
_EVENT_TABLE = cast(Table, OrderEvent.__table__)
_ORDER_KEYS = tuple(attr.key for attr in inspect(Order).column_attrs if attr.key != "id")


@dataclass(slots=True)
class _Pending:
    order: Order
    legs: list[Order]
    done: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class WriteAhead:
    """Writes new orders ahead of the broker, in batches; see the module docstring."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._pending: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._statements: dict[str, tuple[Insert, Insert]] = {}
        self._in_progress: dict[str, asyncio.Future[bool]] = {}  # by client_order_id

    async def write(self, session: AsyncSession, order: Order, legs: list[Order]) -> bool:
        """Commit `order` and `legs` (status pending_submit) with their `created` events.

        True once committed (the objects are then persistent in `session`); False when an
        order with this `client_order_id` exists already (nothing written).
        """
        pending = _Pending(order, legs)
        self._pending.append(pending)
        self._in_progress.setdefault(order.client_order_id, pending.done)
        pending.done.add_done_callback(lambda _: self._forget(order.client_order_id, pending))
        if self._writer is None:
            # A task of its own: a request that goes away does not take its batch with it.
            self._writer = asyncio.create_task(self._drain(), name="write-ahead")
        written = await asyncio.shield(pending.done)
        if written:
            _attach(session, order, legs)
        return written

    async def settled(self, client_order_id: str) -> None:
        """Wait until no write of `client_order_id` is in progress (whatever its outcome)."""
        done = self._in_progress.get(client_order_id)
        if done is not None:
            await asyncio.wait([done])

    def _forget(self, client_order_id: str, pending: _Pending) -> None:
        if self._in_progress.get(client_order_id) is pending.done:
            del self._in_progress[client_order_id]

    async def _drain(self) -> None:
        batch: list[_Pending] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                # No stage of its own: its CPU lands on the requests' `write_ahead`, which
                # wait for it (a stage here would count the batch's wall time twice).
                await self._write_batch(batch)
        except BaseException as exc:  # never leave a request waiting for an answer
            for pending in [*batch, *self._pending]:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            self._pending = []
            raise
        finally:
            self._writer = None

    async def _write_batch(self, batch: list[_Pending]) -> None:
        firsts: dict[str, _Pending] = {}
        repeats: list[_Pending] = []
        for pending in batch:
            key = pending.order.client_order_id
            (repeats.append(pending) if key in firsts else firsts.setdefault(key, pending))
        try:
            written = await self._insert(list(firsts.values()))
        except Exception:
            if len(firsts) > 1:
                log.warning("write_ahead_batch_failed", orders=len(firsts), exc_info=True)
            written = set()
            for pending in firsts.values():
                try:
                    written |= await self._insert([pending])
                except Exception as exc:  # this order's own failure, for its request
                    pending.done.set_exception(exc)
        for key, pending in firsts.items():
            if not pending.done.done():
                pending.done.set_result(key in written)
        for pending in repeats:  # after the first one's commit: its replay finds the row
            pending.done.set_result(False)

    async def _insert(self, batch: Sequence[_Pending]) -> set[str]:
        """Write `batch` in one transaction; return the client_order_ids written."""
        async with self._sessionmaker() as session, session.begin():
            connection = await session.connection()
            insert_orders, insert_events = self._statements_for(connection)
            ids = await _insert_rows(connection, insert_orders, [p.order for p in batch])
            written = [p for p in batch if p.order.client_order_id in ids]
            for pending in written:
                pending.order.id = ids[pending.order.client_order_id]
                for leg in pending.legs:
                    leg.parent_id = pending.order.id
            legs = [leg for pending in written for leg in pending.legs]
            if legs:
                leg_ids = await _insert_rows(connection, insert_orders, legs)
                for leg in legs:
                    leg.id = leg_ids[leg.client_order_id]
            events = [_created_event(row) for p in written for row in (p.order, *p.legs)]
            if events:
                await connection.execute(insert_events, events)
        return set(ids)

    def _statements_for(self, connection: AsyncConnection) -> tuple[Insert, Insert]:
        name = connection.dialect.name
        statements = self._statements.get(name)
        if statements is None:
            dialect_insert = postgresql.insert if name == "postgresql" else sqlite.insert
            insert_orders = (
                dialect_insert(_ORDER_TABLE)
                .on_conflict_do_nothing(index_elements=[_ORDER_TABLE.c.client_order_id])
                .returning(_ORDER_TABLE.c.id, _ORDER_TABLE.c.client_order_id)
            )
            statements = self._statements[name] = (insert_orders, _EVENT_TABLE.insert().inline())
        return statements


async def _insert_rows(
    connection: AsyncConnection, statement: Insert, orders: Sequence[Order]
) -> dict[str, int]:
    returned = await insert_returning(connection, statement, [_row(order) for order in orders])
    return {client_order_id: row_id for row_id, client_order_id in returned}


def _row(order: Order) -> dict[str, Any]:
    """Every column of a new order (those it leaves unset are NULL, as the ORM writes them)."""
    return {key: getattr(order, key) for key in _ORDER_KEYS}


def _created_event(order: Order) -> dict[str, Any]:
    payload: dict[str, Any] = {"request_hash": order.request_hash}
    if order.parent_id is not None:
        payload["parent_id"] = order.parent_id
    return {
        "order_id": order.id,
        "kind": "created",
        "from_status": None,
        "to_status": order.status,
        "reason": None,
        "payload": payload,
        "created_at": order.created_at,
    }


def _attach(session: AsyncSession, order: Order, legs: list[Order]) -> None:
    """Make the written objects persistent in `session` as written: no read needed."""
    for row in (order, *legs):
        for key in _ORDER_KEYS:  # set every column, so none is expired (and loaded later)
            setattr(row, key, getattr(row, key))
        make_transient_to_detached(row)
        session.add(row)
    # The rows just written are the whole family.
    set_committed_value(order, "legs", legs)
    for leg in legs:
        set_committed_value(leg, "legs", [])
