"""REST routes of accounts: managed accounts, summary, P&L and history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from stocks_api.broker.dependencies import BrokerDep, BrokerTimeoutDep
from stocks_api.core.dependencies import CalendarDep, SessionDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.portfolio import accounts as service
from stocks_api.portfolio.schemas import (
    AccountHistoryFilters,
    AccountPnl,
    AccountRead,
    AccountSnapshotPage,
    AccountSnapshotRead,
    AccountSummary,
)

router = APIRouter(prefix="/accounts", tags=["accounts"], route_class=ExactJsonRoute)

AccountId = Annotated[str, Path(min_length=1, max_length=32, examples=["DU1234567"])]

_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "account not found"},
    422: {"description": "validation failed"},
    503: {"description": "broker unavailable"},
    504: {"description": "the broker did not answer in time (BROKER_TIMEOUT)"},
}


@router.get("", responses=_ERRORS)
async def list_accounts(broker: BrokerDep, timeout: BrokerTimeoutDep) -> list[AccountRead]:
    """List the accounts the broker manages."""
    accounts = await service.list_managed(broker=broker, timeout=timeout)
    return [AccountRead.model_validate(a) for a in accounts]


@router.get("/{account_id}/summary", responses=_ERRORS)
async def get_account_summary(
    session: SessionDep, broker: BrokerDep, timeout: BrokerTimeoutDep, account_id: AccountId
) -> AccountSummary:
    """Get net liquidation, cash, margins, buying power and cushion."""
    return await service.summary(
        session=session,
        broker=broker,
        account_id=account_id,
        timeout=timeout,
    )


@router.get("/{account_id}/pnl", responses=_ERRORS)
async def get_account_pnl(
    session: SessionDep,
    broker: BrokerDep,
    timeout: BrokerTimeoutDep,
    calendar: CalendarDep,
    account_id: AccountId,
) -> AccountPnl:
    """Get today's daily, unrealized and realized P&L."""
    return await service.pnl(
        session=session,
        broker=broker,
        calendar=calendar,
        account_id=account_id,
        timeout=timeout,
    )


@router.get("/{account_id}/history", responses=_ERRORS)
async def list_account_history(
    session: SessionDep,
    account_id: AccountId,
    filters: Annotated[AccountHistoryFilters, Query()],
) -> AccountSnapshotPage:
    """List the account's snapshots, newest first."""
    rows, next_cursor = await service.list_history(
        session=session, account_id=account_id, filters=filters
    )
    return AccountSnapshotPage(
        items=[AccountSnapshotRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )
