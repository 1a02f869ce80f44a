"""Reading orders, their audit trail and fills."""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.core.pagination import paginate
from stocks_api.orders.exceptions import (
    OrderNotFoundError,
)
from stocks_api.orders.models import Fill, Order, OrderEvent
from stocks_api.orders.schemas import FillFilters, OrderFilters
from stocks_api.orders.state import OPEN, TERMINAL, OrderStatus

log = structlog.get_logger(__name__)


async def by_client_id(session: AsyncSession, client_order_id: str) -> Order | None:
    result = await session.scalars(select(Order).where(Order.client_order_id == client_order_id))
    return result.first()


async def by_broker_order_id(*, session: AsyncSession, broker_order_id: str) -> Order | None:
    """Return the order the broker knows as `broker_order_id`, if any."""
    result = await session.scalars(select(Order).where(Order.broker_order_id == broker_order_id))
    return result.first()


async def get_or_raise(*, session: AsyncSession, order_id: int) -> Order:
    """Return the order with our id `order_id` or raise `OrderNotFoundError`."""
    order = await session.get(Order, order_id)
    if order is None:
        raise OrderNotFoundError(str(order_id))
    return order


async def get_by_client_id_or_raise(*, session: AsyncSession, client_order_id: str) -> Order:
    """Return the order with `client_order_id` or raise `OrderNotFoundError`."""
    order = await by_client_id(session, client_order_id)
    if order is None:
        raise OrderNotFoundError(f"with client_order_id {client_order_id!r}")
    return order


async def list_orders(
    *, session: AsyncSession, filters: OrderFilters
) -> tuple[list[Order], str | None]:
    """List orders newest first; return a page and the cursor of the next one."""
    query = select(Order)
    if filters.status == "open":
        query = query.where(Order.status.in_([s.value for s in OPEN]))
    elif filters.status == "closed":
        query = query.where(Order.status.in_([s.value for s in TERMINAL]))
    elif filters.status != "all":
        query = query.where(Order.status == OrderStatus(filters.status).value)
    if filters.symbol:
        query = query.where(Order.symbol == filters.symbol)
    if filters.side:
        query = query.where(Order.side == filters.side.value)
    if filters.tag is not None:
        query = query.where(Order.tag == filters.tag)
    if filters.since:
        query = query.where(Order.created_at >= filters.since)
    if filters.until:
        query = query.where(Order.created_at < filters.until)
    return await paginate(session, query, Order.id, filters.cursor, filters.limit)


async def list_events(*, session: AsyncSession, order_id: int) -> list[OrderEvent]:
    """Return an order's audit trail, oldest first."""
    await get_or_raise(session=session, order_id=order_id)
    rows = await session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
    )
    return list(rows)


async def list_fills(
    *, session: AsyncSession, filters: FillFilters
) -> tuple[list[Fill], str | None]:
    """List fills newest first; return a page and the cursor of the next one."""
    query = select(Fill)
    if filters.symbol:
        query = query.where(Fill.symbol == filters.symbol)
    if filters.order_id:
        query = query.where(Fill.order_id == filters.order_id)
    if filters.since:
        query = query.where(Fill.executed_at >= filters.since)
    return await paginate(session, query, Fill.id, filters.cursor, filters.limit)
