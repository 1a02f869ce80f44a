"""Closing a position: a market order for the whole holding, through the normal order path.

Its route (`DELETE /api/v1/positions/{symbol}`) is served here rather than by the
portfolio, because what it does is place an order: risk checks, write-ahead, audit trail.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.protocol import OrderType, Side, TimeInForce
from stocks_api.core.dependencies import CalendarDep, ClockDep, SessionDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.core.query import SymbolPath
from stocks_api.orders.context import TradingContext
from stocks_api.orders.dependencies import TradingDep
from stocks_api.orders.models import Order
from stocks_api.orders.placing import submit
from stocks_api.orders.schemas import ClosePositionParams, OrderCreate, OrderRead
from stocks_api.orders.waiting import note_waiting
from stocks_api.portfolio.exceptions import PositionNotFoundError
from stocks_api.portfolio.positions import get_or_raise

router = APIRouter(prefix="/positions", tags=["positions"], route_class=ExactJsonRoute)

_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "no such position"},
    422: {"description": "validation failed, or refused by the risk checks (RISK_REJECTED)"},
    503: {"description": "broker unavailable"},
    504: {"description": "the broker did not answer in time (BROKER_TIMEOUT)"},
}


async def close(
    *,
    session: AsyncSession,
    trading: TradingContext,
    symbol: str,
    account_id: str | None,
    outside_rth: bool,
    flatten: bool = False,
) -> Order:
    """Close a position with a market order placed through the normal order path.

    `flatten` marks the kill switch's closing orders, which pass a halt (see `risk.checks`).
    """
    position = await get_or_raise(session=session, symbol=symbol, account_id=account_id)
    if position.qty == 0:
        raise PositionNotFoundError(symbol, "no open position")
    order_in = OrderCreate(
        symbol=symbol,
        side=Side.SELL if position.qty > 0 else Side.BUY,
        qty=abs(position.qty),
        type=OrderType.MARKET,
        tif=TimeInForce.DAY,
        outside_rth=outside_rth,
    )
    await session.commit()
    order, _ = await submit(session=session, trading=trading, order_in=order_in, flatten=flatten)
    return order


@router.delete("/{symbol}", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def close_position(
    session: SessionDep,
    trading: TradingDep,
    symbol: SymbolPath,
    params: Annotated[ClosePositionParams, Query()],
    calendar: CalendarDep,
    clock: ClockDep,
) -> OrderRead:
    """Close a position with a market order (through the risk checks); answer with that order.

    Outside the regular session the order waits for the open unless `outside_rth=true`
    (then it works in the extended hours): `notice` says so when it waits.
    """
    order = await close(
        session=session,
        trading=trading,
        symbol=symbol.upper(),
        account_id=params.account_id,
        outside_rth=params.outside_rth,
    )
    notice = await note_waiting(session, order, calendar=calendar, at=clock())
    return OrderRead.model_validate(order).model_copy(update={"notice": notice})
