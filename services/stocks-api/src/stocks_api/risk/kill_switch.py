"""The kill switch: halt trading, and optionally cancel every open order and flatten positions.

Kept apart from `risk.service` because it drives the order and position services, which
themselves call the risk service for every order.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.guard import LiveTradingGuard
from stocks_api.broker.protocol import BrokerAccount, BrokerClient
from stocks_api.core.errors import AppError
from stocks_api.orders import service as order_service
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.positions import service as position_service
from stocks_api.risk import service as risk_service
from stocks_api.risk.engine import RiskEngine
from stocks_api.risk.schemas import (
    HaltRequest,
    HaltResult,
    ResumeRequest,
    RiskStateRead,
    TradingState,
)

log = structlog.get_logger(__name__)


async def halt(
    *,
    session: AsyncSession,
    engine: RiskEngine,
    broker: BrokerClient,
    consumer: BrokerEventConsumer,
    guard: LiveTradingGuard,
    account: BrokerAccount | None,
    request: HaltRequest,
    actor: str,
    timeout: float,
) -> HaltResult:
    """Halt trading at once; then cancel open orders and close positions when asked.

    The state changes first, so nothing new is admitted while the rest runs. Flattening
    cancels first: an open order could otherwise reopen what was just closed.
    """
    cancel = request.cancel_open_orders or request.flatten_positions
    state = await risk_service.change_state(
        engine=engine,
        target=TradingState.HALTED,
        actor=actor,
        reason=request.reason or "halted by request",
        kind="halt",
        payload={"cancel_open_orders": cancel, "flatten_positions": request.flatten_positions},
    )
    cancelled: list[int] = []
    cancel_failed: list[dict[str, Any]] = []
    if cancel:
        orders, cancel_failed = await order_service.cancel_all(
            session=session, broker=broker, consumer=consumer, timeout=timeout
        )
        cancelled = [order.id for order in orders]
    flattened: list[int] = []
    flatten_failed: list[dict[str, Any]] = []
    if request.flatten_positions and account is not None:
        positions = await position_service.open_positions(session, account.account_id)
        await session.commit()
        for position in positions:
            try:
                order = await position_service.close_position(
                    session=session,
                    broker=broker,
                    consumer=consumer,
                    symbol=position.symbol,
                    account_id=account.account_id,
                    outside_rth=False,
                    timeout=timeout,
                    guard=guard,
                    risk=engine,
                    account=account,
                    flatten=True,
                )
                flattened.append(order.id)
            except AppError as exc:  # report it and close the others
                flatten_failed.append(
                    {"symbol": position.symbol, "code": exc.code, "message": exc.message}
                )
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


async def resume(*, engine: RiskEngine, request: ResumeRequest, actor: str) -> RiskStateRead:
    """Trade again, fully or reductions only; the breaker's rejection count starts over."""
    engine.rejection_streak = 0
    return await risk_service.change_state(
        engine=engine,
        target=request.state,
        actor=actor,
        reason=request.reason or f"resumed to {request.state.value}",
        kind="resume",
    )
