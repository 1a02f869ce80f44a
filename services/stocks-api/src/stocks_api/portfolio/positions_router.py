"""REST routes of positions: holdings valued at market and their history.

Closing a position places an order: its route is in `orders.closing`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from stocks_api.broker.dependencies import BrokerDep, BrokerTimeoutDep
from stocks_api.core.dependencies import SessionDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.core.query import SymbolPath
from stocks_api.portfolio import positions as service
from stocks_api.portfolio.schemas import (
    PositionFilters,
    PositionHistoryFilters,
    PositionRead,
    PositionSnapshotPage,
    PositionSnapshotRead,
)

router = APIRouter(prefix="/positions", tags=["positions"], route_class=ExactJsonRoute)

_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "no such position"},
    422: {"description": "validation failed"},
    503: {"description": "broker unavailable"},
    504: {"description": "the broker did not answer in time (BROKER_TIMEOUT)"},
}


@router.get("", responses=_ERRORS)
async def list_positions(
    session: SessionDep,
    broker: BrokerDep,
    timeout: BrokerTimeoutDep,
    filters: Annotated[PositionFilters, Query()],
) -> list[PositionRead]:
    """List current positions with market value and P&L."""
    positions = await service.list_positions(
        session=session,
        broker=broker,
        account_id=filters.account_id,
        include_closed=filters.include_closed,
        timeout=timeout,
    )
    return [PositionRead.model_validate(p) for p in positions]


# Declared before /{symbol}, which would otherwise take "history" for a symbol.
@router.get("/history", responses=_ERRORS)
async def list_position_history(
    session: SessionDep, filters: Annotated[PositionHistoryFilters, Query()]
) -> PositionSnapshotPage:
    """List position snapshots (on every fill and on an interval), newest first."""
    rows, next_cursor = await service.list_history(session=session, filters=filters)
    return PositionSnapshotPage(
        items=[PositionSnapshotRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/{symbol}", responses=_ERRORS)
async def get_position(
    session: SessionDep,
    broker: BrokerDep,
    timeout: BrokerTimeoutDep,
    symbol: SymbolPath,
    account_id: Annotated[str | None, Query(max_length=32)] = None,
) -> PositionRead:
    """Get the position in one symbol (flat positions too, for their realized P&L)."""
    position = await service.get_position(
        session=session,
        broker=broker,
        symbol=symbol.upper(),
        account_id=account_id,
        timeout=timeout,
    )
    return PositionRead.model_validate(position)
