"""REST routes of the risk engine: state and usage, limits, resuming, the audit trail.

Halting (the kill switch) cancels and closes through the order path: its route is in
`orders.kill_switch`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from stocks_api.auth.dependencies import PrincipalDep
from stocks_api.broker.dependencies import BrokerDep, BrokerTimeoutDep, TradingAccountDep
from stocks_api.core.dependencies import SessionDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.risk import service
from stocks_api.risk.dependencies import RiskDep
from stocks_api.risk.schemas import (
    LimitsResetRequest,
    ResumeRequest,
    RiskEventFilters,
    RiskEventPage,
    RiskEventRead,
    RiskLimits,
    RiskLimitsUpdate,
    RiskStateRead,
    RiskStatus,
)

# Reads need `read`; everything that changes the risk engine needs `admin` (see main).
router = APIRouter(prefix="/risk", tags=["risk"], route_class=ExactJsonRoute)
admin_router = APIRouter(prefix="/risk", tags=["risk"], route_class=ExactJsonRoute)

_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"description": "missing the admin scope"},
    422: {"description": "validation failed"},
}


@router.get("")
async def get_risk(
    session: SessionDep,
    risk: RiskDep,
    broker: BrokerDep,
    timeout: BrokerTimeoutDep,
    account: TradingAccountDep,
) -> RiskStatus:
    """Show the trading state, the limits in force and today's usage of them."""
    return await service.status(
        session=session,
        engine=risk,
        broker=broker,
        account_id=None if account is None else account.account_id,
        timeout=timeout,
    )


@router.get("/events")
async def list_risk_events(
    session: SessionDep, filters: Annotated[RiskEventFilters, Query()]
) -> RiskEventPage:
    """List halts, resumes, breaker trips and limit changes, newest first."""
    events, next_cursor = await service.list_events(session=session, filters=filters)
    return RiskEventPage(
        items=[RiskEventRead.model_validate(e) for e in events], next_cursor=next_cursor
    )


@admin_router.put("/limits", responses=_ERRORS)
async def update_limits(
    update: RiskLimitsUpdate, risk: RiskDep, principal: PrincipalDep
) -> RiskLimits:
    """Change limits at run time (persisted, audited); `null` switches a check off."""
    return await service.update_limits(engine=risk, update=update, actor=principal.name)


@admin_router.post("/limits/reset", responses=_ERRORS)
async def reset_limits(
    request: LimitsResetRequest, risk: RiskDep, principal: PrincipalDep
) -> RiskLimits:
    """Drop run-time changes of limits so the `RISK_*` settings apply again."""
    return await service.reset_limits(engine=risk, request=request, actor=principal.name)


@admin_router.post("/resume", responses=_ERRORS)
async def resume_trading(
    risk: RiskDep,
    principal: PrincipalDep,
    body: Annotated[ResumeRequest | None, Body()] = None,
) -> RiskStateRead:
    """Trade again: `active`, or `reducing` (only orders that shrink a position)."""
    request = body or ResumeRequest()
    return await service.resume(engine=risk, request=request, actor=principal.name)
