"""REST routes of positions: holdings valued at market, their history, closing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from stocks_api.broker.dependencies import BrokerDep, GuardDep, TradingAccountDep
from stocks_api.core.dependencies import SessionDep, SettingsDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.orders.dependencies import ConsumerDep
from stocks_api.orders.schemas import OrderRead
from stocks_api.positions import service
from stocks_api.positions.schemas import (
    ClosePositionParams,
    PositionFilters,
    PositionHistoryFilters,
    PositionRead,
    PositionSnapshotPage,
    PositionSnapshotRead,
)
from stocks_api.risk.dependencies import RiskDep

router = APIRouter(prefix="/positions", tags=["positions"], route_class=ExactJsonRoute)

SymbolPath = Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9.]{0,11}$", examples=["AAPL"])]

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
    settings: SettingsDep,
    filters: Annotated[PositionFilters, Query()],
) -> list[PositionRead]:
    """List current positions with market value and P&L."""
    positions = await service.list_positions(
        session=session,
        broker=broker,
        account_id=filters.account_id,
        include_closed=filters.include_closed,
        timeout=settings.broker_timeout_seconds,
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
    settings: SettingsDep,
    symbol: SymbolPath,
    account_id: Annotated[str | None, Query(max_length=32)] = None,
) -> PositionRead:
    """Get the position in one symbol (flat positions too, for their realized P&L)."""
    position = await service.get_position(
        session=session,
        broker=broker,
        symbol=symbol.upper(),
        account_id=account_id,
        timeout=settings.broker_timeout_seconds,
    )
    return PositionRead.model_validate(position)


@router.delete("/{symbol}", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def close_position(
    session: SessionDep,
    broker: BrokerDep,
    consumer: ConsumerDep,
    settings: SettingsDep,
    symbol: SymbolPath,
    params: Annotated[ClosePositionParams, Query()],
    account: TradingAccountDep,
    guard: GuardDep,
    risk: RiskDep,
) -> OrderRead:
    """Close a position with a market order (through the risk checks); answer with that order."""
    order = await service.close_position(
        session=session,
        broker=broker,
        consumer=consumer,
        symbol=symbol.upper(),
        account_id=params.account_id,
        outside_rth=params.outside_rth,
        timeout=settings.broker_timeout_seconds,
        guard=guard,
        risk=risk,
        account=account,
    )
    return OrderRead.model_validate(order)
