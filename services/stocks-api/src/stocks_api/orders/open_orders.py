"""The open orders the risk checks count: what each may still fill, per symbol and side."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.orders.models import Order
from stocks_api.orders.state import OPEN
from stocks_api.risk.service import OpenQty, sum_open_orders


def open_orders_query(
    *, symbol: str | None = None, exclude_order_id: int | None = None
) -> Select[str, str, Decimal, Decimal, str | None]:
    """Select the open orders (of `symbol`, without `exclude_order_id`) for the checks.

    The risk engine is given this function (`RiskEngine.open_orders`) and reads its rows in
    the same statement as positions and cash.
    """
    query = select(Order.symbol, Order.side, Order.qty, Order.filled_qty, Order.oca_group).where(
        Order.status.in_([s.value for s in OPEN])
    )
    if symbol is not None:
        query = query.where(Order.symbol == symbol)
    if exclude_order_id is not None:
        query = query.where(Order.id != exclude_order_id)
    return query


async def open_order_qty(session: AsyncSession, *, symbol: str) -> dict[str, OpenQty]:
    """Sum what the open orders in `symbol` may still fill, per side."""
    return sum_open_orders(await session.execute(open_orders_query(symbol=symbol)))
