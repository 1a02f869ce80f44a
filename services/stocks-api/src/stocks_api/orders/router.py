"""REST routes of orders and fills: parse, call one service function, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from stocks_api.core.dependencies import CalendarDep, ClockDep, SessionDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.core.stages import stage
from stocks_api.orders import changing, placing, queries
from stocks_api.orders.dependencies import TradingDep
from stocks_api.orders.schemas import (
    CancelAllResult,
    FillFilters,
    FillPage,
    FillRead,
    OrderCreate,
    OrderEventRead,
    OrderFilters,
    OrderPage,
    OrderRead,
    OrderUpdate,
)
from stocks_api.orders.waiting import note_waiting

router = APIRouter(prefix="/orders", tags=["orders"], route_class=ExactJsonRoute)
fills_router = APIRouter(prefix="/fills", tags=["fills"], route_class=ExactJsonRoute)

OrderId = Annotated[int, Path(ge=1, le=2**63 - 1, description="our order id")]

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"description": text}
    for code, text in {
        400: "malformed request",
        404: "order not found",
        409: "conflict (idempotency key reused, order not open)",
        422: "validation failed, or refused by the risk checks (RISK_REJECTED)",
        503: "broker unavailable",
    }.items()
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "replay of an earlier identical request"}, **_ERRORS},
)
async def place_order(
    order_in: OrderCreate,
    response: Response,
    session: SessionDep,
    trading: TradingDep,
    calendar: CalendarDep,
    clock: ClockDep,
) -> OrderRead:
    """Place an order (idempotent on `client_order_id`); bracket legs come back in `legs`.

    An order that cannot work now (the session is closed for it) says until when it waits
    in `notice`, and in its audit trail.
    """
    with stage("admission"):  # what the inner stages of placing do not claim
        order, created = await placing.submit(session=session, trading=trading, order_in=order_in)
        with stage("response"):
            if not created:
                response.status_code = status.HTTP_200_OK
            notice = await note_waiting(
                session, order, calendar=calendar, at=clock(), record=created
            )
            return OrderRead.model_validate(order).model_copy(update={"notice": notice})


@router.get("", responses=_ERRORS)
async def list_orders(session: SessionDep, filters: Annotated[OrderFilters, Query()]) -> OrderPage:
    """List orders, newest first, with filters and cursor pagination."""
    orders, next_cursor = await queries.list_orders(session=session, filters=filters)
    return OrderPage(items=[OrderRead.model_validate(o) for o in orders], next_cursor=next_cursor)


@router.delete("", responses=_ERRORS)
async def cancel_all_orders(session: SessionDep, trading: TradingDep) -> CancelAllResult:
    """Cancel every open order."""
    cancelled, failed = await changing.cancel_all(session=session, trading=trading)
    return CancelAllResult(
        cancel_requested=[OrderRead.model_validate(o) for o in cancelled], failed=failed
    )


@router.get("/by-client-id/{client_order_id}", responses=_ERRORS)
async def get_order_by_client_id(
    session: SessionDep, client_order_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> OrderRead:
    """Get an order by its `client_order_id`."""
    order = await queries.get_by_client_id_or_raise(
        session=session, client_order_id=client_order_id
    )
    return OrderRead.model_validate(order)


@router.get("/{order_id}", responses=_ERRORS)
async def get_order(session: SessionDep, order_id: OrderId) -> OrderRead:
    """Get an order by our id."""
    return OrderRead.model_validate(await queries.get_or_raise(session=session, order_id=order_id))


@router.patch("/{order_id}", responses=_ERRORS)
async def modify_order(
    order_id: OrderId,
    change: OrderUpdate,
    session: SessionDep,
    trading: TradingDep,
) -> OrderRead:
    """Change the quantity, limit price or stop price of an open order."""
    order = await changing.modify(
        session=session, trading=trading, order_id=order_id, change=change
    )
    return OrderRead.model_validate(order)


@router.delete("/{order_id}", responses=_ERRORS)
async def cancel_order(order_id: OrderId, session: SessionDep, trading: TradingDep) -> OrderRead:
    """Cancel an open order."""
    order = await changing.cancel(session=session, trading=trading, order_id=order_id)
    return OrderRead.model_validate(order)


@router.get("/{order_id}/events", responses=_ERRORS)
async def list_order_events(session: SessionDep, order_id: OrderId) -> list[OrderEventRead]:
    """List an order's full status history (its audit trail)."""
    events = await queries.list_events(session=session, order_id=order_id)
    return [OrderEventRead.model_validate(e) for e in events]


@fills_router.get("", responses=_ERRORS)
async def list_fills(session: SessionDep, filters: Annotated[FillFilters, Query()]) -> FillPage:
    """List executions with their commissions, newest first."""
    fills, next_cursor = await queries.list_fills(session=session, filters=filters)
    return FillPage(items=[FillRead.model_validate(f) for f in fills], next_cursor=next_cursor)
