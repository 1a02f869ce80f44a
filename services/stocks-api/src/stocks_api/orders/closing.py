"""Closing positions: a market order for the holding (or part of it), through the order path.

Its routes (`DELETE /api/v1/positions/{symbol}`, whole or in part by `qty` or
`percentage`, and `DELETE /api/v1/positions`, every position) are served here rather than
by the portfolio, because what they do is place orders: risk checks (a closing order
reduces, so the checks judge it as a reduction), write-ahead, audit trail.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.calls import call_broker
from stocks_api.broker.protocol import OrderType, Side, TimeInForce
from stocks_api.core.dependencies import CalendarDep, ClockDep, SessionDep
from stocks_api.core.errors import AppError, UnprocessableError
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.core.query import SymbolPath
from stocks_api.orders.changing import cancel_all
from stocks_api.orders.context import TradingContext
from stocks_api.orders.dependencies import TradingDep
from stocks_api.orders.exceptions import UnknownSymbolError
from stocks_api.orders.models import Order
from stocks_api.orders.placing import submit
from stocks_api.orders.schemas import (
    CloseAllParams,
    ClosedPositions,
    ClosePositionParams,
    OrderCreate,
    OrderRead,
)
from stocks_api.orders.sending import nothing_sent_yet
from stocks_api.orders.waiting import note_waiting
from stocks_api.portfolio.exceptions import PositionNotFoundError
from stocks_api.portfolio.positions import get_or_raise, open_positions

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
    qty: Decimal | None = None,
    percentage: Decimal | None = None,
) -> Order:
    """Close a position (all of it, `qty` shares, or `percentage` percent) with a market order.

    `flatten` marks the kill switch's closing orders, which pass a halt (see `risk.checks`).
    """
    position = await get_or_raise(session=session, symbol=symbol, account_id=account_id)
    if position.qty == 0:
        raise PositionNotFoundError(symbol, "no open position")
    held = abs(position.qty)
    await session.commit()  # the read is over: nothing held while the order is placed
    if percentage is not None:
        wanted = await _share_of(trading, symbol, held, percentage)
    elif qty is not None:
        if qty > held:
            raise PartialCloseError(f"qty {qty} is more than the {held} held of {symbol}", "qty")
        wanted = qty
    else:
        wanted = held
    order_in = OrderCreate(
        symbol=symbol,
        side=Side.SELL if position.qty > 0 else Side.BUY,
        qty=wanted,
        type=OrderType.MARKET,
        tif=TimeInForce.DAY,
        outside_rth=outside_rth,
    )
    order, _ = await submit(session=session, trading=trading, order_in=order_in, flatten=flatten)
    return order


async def _share_of(
    trading: TradingContext, symbol: str, held: Decimal, percentage: Decimal
) -> Decimal:
    """`percentage` percent of `held`, rounded down to the symbol's quantity step."""
    if percentage == 100:
        return held
    with nothing_sent_yet():
        contract = await call_broker(trading.broker.contract(symbol), timeout=trading.timeout)
    if contract is None:
        raise UnknownSymbolError(symbol)
    step = contract.qty_increment
    share = (held * percentage / 100 / step).to_integral_value(ROUND_DOWN) * step
    if share == 0:
        raise PartialCloseError(
            f"{percentage}% of the {held} held of {symbol} is less than its quantity step"
            f" ({step}): nothing to close",
            "percentage",
        )
    return share


async def close_all(
    *, session: AsyncSession, trading: TradingContext, params: CloseAllParams
) -> ClosedPositions:
    """Close every open position (of one account, or all), each with its own market order.

    With `cancel_orders`, every open order is asked to cancel first. One position that
    cannot be closed (refused by the risk checks, say) is reported and the others closed.
    """
    cancelled: list[Order] = []
    cancel_failed: list[dict[str, Any]] = []
    if params.cancel_orders:
        cancelled, cancel_failed = await cancel_all(session=session, trading=trading)
    orders, failed = await close_each(
        session=session,
        trading=trading,
        account_id=params.account_id,
        outside_rth=params.outside_rth,
    )
    return ClosedPositions(
        orders=[OrderRead.model_validate(order) for order in orders],
        failed=failed,
        cancel_requested=[OrderRead.model_validate(order) for order in cancelled],
        cancel_failed=cancel_failed,
    )


async def close_each(
    *,
    session: AsyncSession,
    trading: TradingContext,
    account_id: str | None,
    outside_rth: bool,
    flatten: bool = False,
) -> tuple[list[Order], list[dict[str, Any]]]:
    """Close every open position (of `account_id`, or all), each with its own market order.

    Returns the orders placed and, for each position that could not be closed, its symbol,
    account and the error: one refusal does not stop the others.
    """
    positions = await open_positions(session, account_id)
    await session.commit()
    orders: list[Order] = []
    failed: list[dict[str, Any]] = []
    for position in positions:
        try:
            order = await close(
                session=session,
                trading=trading,
                symbol=position.symbol,
                account_id=position.account_id,
                outside_rth=outside_rth,
                flatten=flatten,
            )
        except AppError as exc:  # report it and close the others
            failed.append(
                {
                    "symbol": position.symbol,
                    "account_id": position.account_id,
                    "code": exc.code,
                    "message": exc.message,
                }
            )
        else:
            orders.append(order)
    return orders, failed


class PartialCloseError(UnprocessableError):
    """A part of a position that cannot be closed (more than held, less than a step)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(
            message, details=[{"loc": ["query", field], "msg": message, "type": "value_error"}]
        )


@router.delete("/{symbol}", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
async def close_position(
    session: SessionDep,
    trading: TradingDep,
    symbol: SymbolPath,
    params: Annotated[ClosePositionParams, Query()],
    calendar: CalendarDep,
    clock: ClockDep,
) -> OrderRead:
    """Close a position, or part of it, with a market order (through the risk checks).

    `qty` closes that many shares, `percentage` that percent of the holding (rounded down
    to the symbol's quantity step); neither closes it all. Answers with the order.

    Outside the regular session the order waits for the open unless `outside_rth=true`
    (then it works in the extended hours): `notice` says so when it waits.
    """
    order = await close(
        session=session,
        trading=trading,
        symbol=symbol.upper(),
        account_id=params.account_id,
        outside_rth=params.outside_rth,
        qty=params.qty,
        percentage=params.percentage,
    )
    notice = await note_waiting(session, order, calendar=calendar, at=clock())
    return OrderRead.model_validate(order).model_copy(update={"notice": notice})


@router.delete("", responses=_ERRORS)
async def close_all_positions(
    session: SessionDep,
    trading: TradingDep,
    params: Annotated[CloseAllParams, Query()],
) -> ClosedPositions:
    """Close every open position with a market order each (through the risk checks).

    `cancel_orders=true` asks every open order to cancel first. A position that cannot be
    closed is listed in `failed` with its error; the others are closed all the same.
    """
    return await close_all(session=session, trading=trading, params=params)
