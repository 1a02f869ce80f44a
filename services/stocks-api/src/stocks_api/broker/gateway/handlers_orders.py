"""The request handlers of orders and executions: what gateway-sim answers a client's
placeOrder, cancelOrder, reqOpenOrders, reqAllOpenOrders, reqCompletedOrders,
reqExecutions and reqGlobalCancel with.

Each handler parses its request (`requests.py`), asks the backend (`backend.py`) and
answers in IB's messages (`encoders.py`); `handlers.py` maps message ids to them.
"""

from __future__ import annotations

from datetime import datetime

from stocks_api.broker.gateway import encoders
from stocks_api.broker.gateway import requests as parse
from stocks_api.broker.gateway.codes import EXECUTION_FILTER_ERROR, ORDER_REJECTED
from stocks_api.broker.gateway.model import IbExecution, IbOrder
from stocks_api.broker.gateway.session import Session
from stocks_api.broker.gateway.wire import Fields


async def place_order(session: Session, fields: Fields) -> None:
    try:
        request = parse.place_order(fields, session.version)
    except parse.UnsupportedOrderError as exc:
        session.error(exc.order_id, ORDER_REJECTED, f"Order rejected - reason:{exc}")
        return
    await session.backend.place(session, request)


async def cancel_order(session: Session, fields: Fields) -> None:
    fields.skip(1)  # version
    await session.backend.cancel(session, fields.int())


async def open_orders(session: Session, fields: Fields) -> None:
    """reqOpenOrders: the working orders of this client."""
    _send_open_orders(session, session.backend.open_orders(session.client_id))


async def all_open_orders(session: Session, fields: Fields) -> None:
    """reqAllOpenOrders: the working orders of every client."""
    _send_open_orders(session, session.backend.open_orders(None))


def _send_open_orders(session: Session, orders: list[IbOrder]) -> None:
    for order in orders:
        session.send(encoders.open_order(order, session.version))
        session.send(encoders.order_status(order))
    session.send(encoders.open_order_end())


async def completed_orders(session: Session, fields: Fields) -> None:
    for order in session.backend.completed_orders():
        session.send(encoders.completed_order(order, session.version))
    session.send(encoders.completed_orders_end())


async def executions(session: Session, fields: Fields) -> None:
    req_id, wanted = parse.execution_filter(fields)
    assert session.client_id is not None
    try:
        after = parse.parse_time(wanted.time)
    except ValueError:
        session.error(
            req_id, EXECUTION_FILTER_ERROR, f"Invalid execution filter time {wanted.time!r}"
        )
        session.send(encoders.exec_details_end(req_id))
        return
    for execution, report in session.backend.executions(session.client_id):
        if _matches(execution, wanted, after):
            session.send(encoders.exec_details(req_id, execution, session.version))
            session.send(encoders.commission_report(report))
    session.send(encoders.exec_details_end(req_id))


def _matches(execution: IbExecution, wanted: parse.ExecutionFilter, after: datetime | None) -> bool:
    """Whether an execution passes reqExecutions' filter (as IB applies it)."""
    side = {"BUY": "BOT", "SELL": "SLD"}.get(wanted.side.upper(), wanted.side.upper())
    return (
        (not wanted.client_id or execution.client_id == wanted.client_id)
        and (not wanted.account or execution.account == wanted.account)
        and (after is None or execution.time >= after)
        and (not wanted.symbol or execution.contract.symbol == wanted.symbol.upper())
        and (not wanted.sec_type or wanted.sec_type.upper() == execution.contract.sec_type)
        and (
            not wanted.exchange or wanted.exchange.upper() in ("SMART", execution.contract.exchange)
        )
        and (not side or execution.side == side)
    )


async def global_cancel(session: Session, fields: Fields) -> None:
    await session.backend.cancel_all()
