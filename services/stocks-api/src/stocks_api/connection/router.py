"""REST routes of the broker connection and its session audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from stocks_api.broker.dependencies import AccountsDep, BrokerDep, GuardDep
from stocks_api.connection import sessions as session_service
from stocks_api.connection.dependencies import OwnershipDep
from stocks_api.connection.link import link_status
from stocks_api.connection.schemas import (
    BrokerLinkRead,
    BrokerOwnerRead,
    BrokerSessionFilters,
    BrokerSessionPage,
    BrokerSessionRead,
    BrokerStatus,
    ReconciliationRead,
)
from stocks_api.core.dependencies import SessionDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.orders.dependencies import ReconcilerDep
from stocks_api.portfolio.schemas import AccountRead

router = APIRouter(prefix="/broker", tags=["broker"], route_class=ExactJsonRoute)

_ERRORS: dict[int | str, dict[str, object]] = {
    422: {"description": "validation failed (a bad `limit` or `cursor`)"},
}


@router.get("")
async def get_broker(
    broker: BrokerDep,
    guard: GuardDep,
    accounts: AccountsDep,
    ownership: OwnershipDep,
    session: SessionDep,
    reconciler: ReconcilerDep,
) -> BrokerStatus:
    """Show the broker: kind, connection, endpoint, paper or live, accounts, owner, session."""
    info = broker.connection_info()
    owner = ownership.owner
    current = await session_service.current_session(session=session)
    return BrokerStatus(
        kind=info.kind,
        connected=broker.is_connected,
        host=info.host,
        port=info.port,
        server_version=info.server_version,
        mode="live" if guard.is_live else "paper",
        live_reasons=list(guard.live_reasons),
        live_trading_allowed=guard.allow_live,
        accounts=[AccountRead.model_validate(a) for a in accounts],
        connected_at=info.connected_at,
        last_reconnect_at=info.last_reconnect_at,
        role=ownership.role,
        read_only=not ownership.is_owner,
        owner=None if owner is None else BrokerOwnerRead.model_validate(owner),
        session=None if current is None else BrokerSessionRead.model_validate(current),
        link=BrokerLinkRead.model_validate(link_status(broker)),
        reconciliation=None
        if reconciler.last is None
        else ReconciliationRead.model_validate(reconciler.last),
    )


@router.get("/sessions", responses=_ERRORS)
async def list_broker_sessions(
    session: SessionDep, filters: Annotated[BrokerSessionFilters, Query()]
) -> BrokerSessionPage:
    """List the broker sessions (one per connection), newest first, with cursor pagination."""
    rows, next_cursor = await session_service.list_sessions(session=session, filters=filters)
    return BrokerSessionPage(
        items=[BrokerSessionRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )
