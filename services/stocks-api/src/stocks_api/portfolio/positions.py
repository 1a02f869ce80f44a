"""The position service: current holdings valued at market, and their history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.protocol import BrokerClient
from stocks_api.core.errors import UnprocessableError
from stocks_api.core.ledger import market_value, unrealized_pnl
from stocks_api.core.pagination import paginate
from stocks_api.marketdata import service as marketdata_service
from stocks_api.portfolio.exceptions import PositionNotFoundError
from stocks_api.portfolio.models import Position, PositionSnapshot
from stocks_api.portfolio.schemas import PositionHistoryFilters


@dataclass(frozen=True, slots=True)
class ValuedPosition:
    """A position with its market valuation (market fields None without a price)."""

    account_id: str
    symbol: str
    qty: Decimal
    avg_cost: Decimal
    cost_basis: Decimal
    market_price: Decimal | None
    market_value: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal
    opened_at: datetime | None
    updated_at: datetime


class Holding(Protocol):
    """What valuing a position needs: a stored `Position`, or a `ValuedPosition` revalued."""

    @property
    def account_id(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def qty(self) -> Decimal: ...
    @property
    def avg_cost(self) -> Decimal: ...
    @property
    def realized_pnl(self) -> Decimal: ...
    @property
    def opened_at(self) -> datetime | None: ...
    @property
    def updated_at(self) -> datetime: ...


def value(position: Holding, price: Decimal | None) -> ValuedPosition:
    """Value `position` at `price` (the one valuation of a position, REST and stream alike)."""
    return ValuedPosition(
        account_id=position.account_id,
        symbol=position.symbol,
        qty=position.qty,
        avg_cost=position.avg_cost,
        cost_basis=position.qty * position.avg_cost,
        market_price=price,
        market_value=None if price is None else market_value(position.qty, price),
        unrealized_pnl=(
            None if price is None else unrealized_pnl(position.qty, position.avg_cost, price)
        ),
        realized_pnl=position.realized_pnl,
        opened_at=position.opened_at if position.qty else None,
        updated_at=position.updated_at,
    )


async def open_positions(session: AsyncSession, account_id: str | None = None) -> list[Position]:
    """Return the non-flat positions (of one account, or all), by symbol."""
    query = select(Position).where(Position.qty != 0)
    if account_id is not None:
        query = query.where(Position.account_id == account_id)
    return list(await session.scalars(query.order_by(Position.account_id, Position.symbol)))


async def value_all(
    *, broker: BrokerClient, positions: list[Position], timeout: float
) -> list[ValuedPosition]:
    """Value positions at the broker's last prices (one quote per distinct symbol)."""
    prices = await marketdata_service.marks(
        broker=broker, symbols=[p.symbol for p in positions if p.qty], timeout=timeout
    )
    return [value(p, prices.get(p.symbol)) for p in positions]


async def list_positions(
    *,
    session: AsyncSession,
    broker: BrokerClient,
    account_id: str | None,
    include_closed: bool,
    timeout: float,
) -> list[ValuedPosition]:
    """List positions valued at market; flat ones only when `include_closed`."""
    if include_closed:
        query = select(Position)
        if account_id is not None:
            query = query.where(Position.account_id == account_id)
        rows = list(await session.scalars(query.order_by(Position.account_id, Position.symbol)))
    else:
        rows = await open_positions(session, account_id)
    await session.commit()  # end the read before waiting on the broker
    return await value_all(broker=broker, positions=rows, timeout=timeout)


async def get_or_raise(*, session: AsyncSession, symbol: str, account_id: str | None) -> Position:
    """Return the position in `symbol` (of `account_id` when several accounts hold one)."""
    query = select(Position).where(Position.symbol == symbol)
    if account_id is not None:
        query = query.where(Position.account_id == account_id)
    rows = list(await session.scalars(query))
    if not rows:
        raise PositionNotFoundError(symbol)
    if len(rows) > 1:
        raise UnprocessableError(
            f"{symbol} is held in several accounts; give account_id",
            details=[{"loc": ["query", "account_id"], "msg": "required", "type": "missing"}],
        )
    return rows[0]


async def get_position(
    *,
    session: AsyncSession,
    broker: BrokerClient,
    symbol: str,
    account_id: str | None,
    timeout: float,
) -> ValuedPosition:
    """Return one position valued at market (also when flat, for its realized P&L)."""
    position = await get_or_raise(session=session, symbol=symbol, account_id=account_id)
    await session.commit()
    [valued] = await value_all(broker=broker, positions=[position], timeout=timeout)
    return valued


async def list_history(
    *, session: AsyncSession, filters: PositionHistoryFilters
) -> tuple[list[PositionSnapshot], str | None]:
    """List position snapshots newest first; return a page and the next cursor."""
    query = select(PositionSnapshot)
    if filters.symbol:
        query = query.where(PositionSnapshot.symbol == filters.symbol)
    if filters.account_id:
        query = query.where(PositionSnapshot.account_id == filters.account_id)
    if filters.since:
        query = query.where(PositionSnapshot.taken_at >= filters.since)
    if filters.until:
        query = query.where(PositionSnapshot.taken_at < filters.until)
    return await paginate(session, query, PositionSnapshot.id, filters.cursor, filters.limit)
