"""The kill switch: halt trading, and optionally cancel every open order and flatten positions.

An order operation: the risk engine's state changes first (`risk.service.change_state`),
so nothing new is admitted, then the order path cancels and closes. Its route
(`POST /api/v1/risk/halt`, admin) is served here; resuming is the risk engine's alone
(`risk.router`).
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.auth.dependencies import PrincipalDep
from stocks_api.core.dependencies import SessionDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.orders.changing import cancel_all
from stocks_api.orders.closing import close_each
from stocks_api.orders.context import TradingContext
from stocks_api.orders.dependencies import TradingDep
from stocks_api.risk import service as risk_service
from stocks_api.risk.schemas import HaltRequest, HaltResult, TradingState

log = structlog.get_logger(__name__)

admin_router = APIRouter(prefix="/risk", tags=["risk"], route_class=ExactJsonRoute)

_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"description": "missing the admin scope"},
    422: {"description": "validation failed"},
}


async def halt(
    *, session: AsyncSession, trading: TradingContext, request: HaltRequest, actor: str
) -> HaltResult:
    """Halt trading at once; then cancel open orders and close positions when asked.

    The state changes first, so nothing new is admitted while the rest runs. Flattening
    cancels first: an open order could otherwise reopen what was just closed.
    """
    cancel = request.cancel_open_orders or request.flatten_positions
    state = await risk_service.change_state(
        engine=trading.risk,
        target=TradingState.HALTED,
        actor=actor,
        reason=request.reason or "halted by request",
        kind="halt",
        payload={"cancel_open_orders": cancel, "flatten_positions": request.flatten_positions},
    )
    # Orders admitted before the halt and already on their way reach the broker now, not
    # after this returns (the others see the halt before sending: `risk.gate.may_send`);
    # a cancel that follows finds them.
    if not await trading.consumer.drain_sending(trading.timeout):
        log.error("kill_switch_drain_timeout", sending=sorted(trading.consumer.in_flight))
    cancelled: list[int] = []
    cancel_failed: list[dict[str, Any]] = []
    if cancel:
        orders, cancel_failed = await cancel_all(session=session, trading=trading)
        cancelled = [order.id for order in orders]
    flattened: list[int] = []
    flatten_failed: list[dict[str, Any]] = []
    account = trading.account
    if request.flatten_positions and account is not None:
        orders, flatten_failed = await close_each(
            session=session,
            trading=trading,
            account_id=account.account_id,
            outside_rth=False,
            flatten=True,
        )
        flattened = [order.id for order in orders]
    log.warning(
        "kill_switch",
        cancelled=len(cancelled),
        cancel_failed=len(cancel_failed),
        flattened=len(flattened),
        flatten_failed=len(flatten_failed),
    )
    return HaltResult(
        state=state,
        cancel_requested=cancelled,
        cancel_failed=cancel_failed,
        flatten_orders=flattened,
        flatten_failed=flatten_failed,
    )


@admin_router.post("/halt", responses=_ERRORS)
async def halt_trading(
    body: Annotated[HaltRequest | None, Body()] = None,
    *,
    session: SessionDep,
    trading: TradingDep,
    principal: PrincipalDep,
) -> HaltResult:
    """Halt all trading now; optionally cancel open orders and flatten positions.

    When it returns, nothing more reaches the broker: orders admitted before the halt but
    not yet sent are refused (RISK_REJECTED, trading_state), those already on their way
    have arrived (and are cancelled too with `cancel_open_orders`).
    """
    return await halt(
        session=session, trading=trading, request=body or HaltRequest(), actor=principal.name
    )
