"""The open orders as the risk domain counts them: what each may still fill.

`open_orders_query` is the statement the risk engine reads them with (loading its book,
and `GET /risk`); `book_entry` is one order row as its book holds it, and `note_committed`
reports committed rows to that book, reading again those the report finds stale.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.core.sql import one_of
from stocks_api.orders.models import Order
from stocks_api.orders.state import OPEN, OrderStatus
from stocks_api.risk.book import OpenOrder, TradingBook

log = structlog.get_logger(__name__)

# Reads of a row whose report keeps losing to a newer one before it gives up (the next
# report of that order, always after a commit, puts it right).
RESYNC_ATTEMPTS = 3


def open_orders_query(*, keyed: bool = False) -> Select[*tuple[Any, ...]]:
    """Select the open orders for the risk domain (`RiskEngine.open_orders`).

    Columns `symbol, side, qty, filled_qty, oca_group` (and `client_order_id` when `keyed`),
    so `GET /risk` reads them in the same statement as positions and cash.
    """
    columns = [Order.symbol, Order.side, Order.qty, Order.filled_qty, Order.oca_group]
    if keyed:
        columns.append(Order.client_order_id)
    return select(*columns).where(Order.status.in_([s.value for s in OPEN]))


def book_entry(order: Order) -> OpenOrder | None:
    """The order as the risk book holds it: what it may still fill, or None when not open."""
    if OrderStatus(order.status) not in OPEN:
        return None
    return reservation(order)


def reservation(order: Order) -> OpenOrder:
    """The order as the risk book holds it once written ahead, whatever its status now."""
    return OpenOrder.of(order.symbol, order.side, order.qty, order.filled_qty, order.oca_group)


def note_committed(book: TradingBook, orders: Iterable[Order], *, seen_at: int) -> list[str]:
    """Report committed rows read when the book's clock was `seen_at`; return the stale ones."""
    return [
        order.client_order_id
        for order in orders
        if not book.note_order(order.client_order_id, book_entry(order), seen_at=seen_at)
    ]


async def resync(
    sessionmaker: async_sessionmaker[AsyncSession], book: TradingBook, ids: Collection[str]
) -> None:
    """Read `ids` again and report them (a report of an older copy was refused)."""
    pending = set(ids)
    for _ in range(RESYNC_ATTEMPTS):
        if not pending:
            return
        seen_at = book.clock
        async with sessionmaker() as session:
            rows = await session.execute(
                select(
                    Order.client_order_id,
                    Order.status,
                    Order.symbol,
                    Order.side,
                    Order.qty,
                    Order.filled_qty,
                    Order.oca_group,
                ).where(one_of(Order.client_order_id, pending))
            )
            found = {row.client_order_id: row for row in rows}
        stale = []
        for client_order_id in pending:
            row = found.get(client_order_id)
            entry = None
            if row is not None and OrderStatus(row.status) in OPEN:
                entry = OpenOrder.of(row.symbol, row.side, row.qty, row.filled_qty, row.oca_group)
            if not book.note_order(client_order_id, entry, seen_at=seen_at):
                stale.append(client_order_id)
        pending = set(stale)
    if pending:
        log.warning("risk_book_resync_gave_up", orders=sorted(pending))
