"""Changing working orders: modifying (through the risk gate) and cancelling (one or all).

Like placing, a change is written ahead: the row holds the new values (or
`pending_cancel`) before the broker is asked, and only the consumer applies what the
broker reports. A change the broker refuses is undone, unless the order ended meanwhile
(then the answer is 409 ORDER_NOT_OPEN).
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.calls import call_broker
from stocks_api.broker.protocol import (
    BrokerClient,
    BrokerOrderStatus,
    OrderChange,
    OrderType,
    Side,
)
from stocks_api.core.database import utcnow
from stocks_api.core.errors import (
    BrokerRejectedAppError,
    BrokerTimeoutAppError,
    BrokerUnavailableAppError,
)
from stocks_api.orders.audit import record_event
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.context import TradingContext
from stocks_api.orders.exceptions import (
    InvalidModificationError,
    OrderNotOpenError,
)
from stocks_api.orders.models import Order, OrderEvent
from stocks_api.orders.open_orders import resync
from stocks_api.orders.proposals import propose_change
from stocks_api.orders.queries import get_or_raise
from stocks_api.orders.schemas import OrderUpdate
from stocks_api.orders.sending import after_broker_call, end_unsent
from stocks_api.orders.state import OPEN, OrderStatus
from stocks_api.risk import gate as risk_gate
from stocks_api.risk.book import OpenOrder
from stocks_api.risk.checks import ProposedOrder
from stocks_api.risk.exceptions import RiskRejectedError

log = structlog.get_logger(__name__)


async def modify(
    *, session: AsyncSession, trading: TradingContext, order_id: int, change: OrderUpdate
) -> Order:
    """Change quantity, limit or stop price of an open order (through the risk checks)."""
    broker, consumer, risk = trading.broker, trading.consumer, trading.risk
    timeout = trading.timeout
    trading.guard.check()
    order = await _working_order(session, order_id)
    _check_change(order, change)
    contract = None
    if change.qty is not None:  # the gate checks the new quantity's increment
        contract = await call_broker(broker.contract(order.symbol), timeout=timeout)
    quote = await call_broker(broker.get_quote(order.symbol), timeout=timeout)
    # Read again after the broker calls: a fill may have landed since the first read.
    order = await _working_order(session, order_id, refresh=True)
    _check_change(order, change)
    proposed = propose_change(order, change, quote)
    admission = await risk_gate.admit(
        engine=risk,
        broker=broker,
        proposed=proposed,
        quote=quote,
        contract=contract,
        account=trading.account,
        reserve=[(order.client_order_id, _entry_after(order, proposed))],
        timeout=timeout,
        replacing=order.client_order_id,
    )
    old = _modifiable_fields(order)
    if not admission.admitted:
        requested = change.model_dump(mode="json", exclude_none=True)
        record_event(
            session,
            order,
            "modify_rejected",
            reason="risk: " + "; ".join(str(d["message"]) for d in admission.details),
            payload={"old": old, "requested": requested, "checks": admission.details},
        )
        await session.commit()
        raise RiskRejectedError(admission.details, order_id=order.id, what="modification")
    try:
        # Write-ahead for the change too: the row holds the new values before the broker
        # works with them, so fills that follow are measured against the new quantity.
        if change.qty is not None:
            order.qty = change.qty
        if change.limit_price is not None:
            order.limit_price = change.limit_price
        if change.stop_price is not None:
            order.stop_price = change.stop_price
        new = _modifiable_fields(order)
        record_event(session, order, "modify_requested", payload={"old": old, "new": new})
        await session.commit()
    except BaseException:
        risk_gate.release(risk, admission)  # not written: the book keeps the old quantity
        raise
    await consumer.announce([order])
    try:
        return await _modify_at_broker(session, trading, order, change, old)
    finally:
        # The book from the row as it stands now (changed, or put back).
        await resync(risk.sessionmaker, risk.book, [order.client_order_id])


async def _modify_at_broker(
    session: AsyncSession,
    trading: TradingContext,
    order: Order,
    change: OrderUpdate,
    old: dict[str, str | None],
) -> Order:
    broker, consumer, timeout = trading.broker, trading.consumer, trading.timeout
    mark = consumer.last_received
    broker_change = OrderChange(
        qty=change.qty, limit_price=change.limit_price, stop_price=change.stop_price
    )
    assert order.broker_order_id is not None  # _working_order guarantees it
    try:
        await call_broker(
            broker.modify_order(order.broker_order_id, broker_change), timeout=timeout
        )
    except (BrokerRejectedAppError, BrokerUnavailableAppError, BrokerTimeoutAppError) as exc:
        # What the broker reported before refusing (a cancel or a fill that won the race)
        # is applied first, so the answer says why: 409 for an order no longer open.
        await consumer.wait_applied(consumer.last_received, timeout)
        await session.refresh(order)
        for name, value in old.items():
            setattr(order, name, None if value is None else Decimal(value))
        record_event(session, order, "modify_rejected", reason=exc.message, payload={"old": old})
        await session.commit()
        await consumer.announce([order])
        status = OrderStatus(order.status)
        if status not in OPEN or status is OrderStatus.PENDING_CANCEL:
            raise OrderNotOpenError(order.id, order.status) from exc
        if order.id in consumer.cancelling:
            raise OrderNotOpenError(order.id, OrderStatus.PENDING_CANCEL.value) from exc
        raise
    return await after_broker_call(session, consumer, order, mark, timeout)


def _entry_after(order: Order, proposed: ProposedOrder) -> OpenOrder:
    """The order in the risk book as the change leaves it."""
    return OpenOrder(order.symbol, Side(order.side), proposed.open_qty, order.oca_group)


def _modifiable_fields(order: Order) -> dict[str, str | None]:
    return {
        "qty": str(order.qty),
        "limit_price": None if order.limit_price is None else str(order.limit_price),
        "stop_price": None if order.stop_price is None else str(order.stop_price),
    }


def _check_change(order: Order, change: OrderUpdate) -> None:
    problems = []
    order_type = OrderType(order.order_type)
    if change.limit_price is not None and order_type not in (
        OrderType.LIMIT,
        OrderType.STOP_LIMIT,
    ):
        problems.append(f"limit_price cannot be set on a {order_type} order")
    if change.stop_price is not None and order_type not in (OrderType.STOP, OrderType.STOP_LIMIT):
        problems.append(f"stop_price cannot be set on a {order_type} order")
    if change.qty is not None and change.qty <= order.filled_qty:
        problems.append(f"qty must be greater than the filled quantity {order.filled_qty}")
    if problems:
        raise InvalidModificationError(
            "; ".join(problems), details=[{"msg": problem} for problem in problems]
        )


async def cancel(*, session: AsyncSession, trading: TradingContext, order_id: int) -> Order:
    """Ask the broker to cancel an open order.

    An order the broker has not acknowledged yet (pending_submit) may be at the broker
    or not: the cancel is recorded as intent (pending_cancel) and carried out the moment
    the broker reports the order, or completed by reconciliation when the broker never
    had it. An unsent order was never sent: it is cancelled here.
    """
    broker, consumer, timeout = trading.broker, trading.consumer, trading.timeout
    order = await get_or_raise(session=session, order_id=order_id)
    status = OrderStatus(order.status)
    if status is OrderStatus.UNSENT:
        reason = "cancelled before it was ever sent"
        await end_unsent(
            session, consumer, [order, *order.legs], BrokerOrderStatus.CANCELLED, reason
        )
        await session.commit()
        return order
    unacknowledged = status is OrderStatus.PENDING_SUBMIT and order.broker_order_id is None
    if unacknowledged and await _record_cancel_intent(session, consumer, order, timeout):
        return order
    earlier = consumer.cancelling.get(order.id)
    if earlier is not None or (
        order.status == OrderStatus.PENDING_CANCEL.value and order.broker_order_id is None
    ):
        # An earlier cancel of this order is on its way (or waits for the acknowledgement):
        # its state is the answer; asking the broker twice would only draw a rejection.
        if earlier is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(earlier.wait(), timeout)
        await session.refresh(order)
        await session.commit()
        return order
    if OrderStatus(order.status) not in OPEN:
        raise OrderNotOpenError(order.id, order.status)
    if order.broker_order_id is None:
        raise OrderNotOpenError(order.id, "not yet acknowledged by the broker")
    structlog.contextvars.bind_contextvars(order_id=order.id, client_order_id=order.client_order_id)
    marked = consumer.cancelling[order.id] = asyncio.Event()
    try:
        return await _cancel_at_broker(session, broker, consumer, order, marked, timeout)
    finally:
        marked.set()
        del consumer.cancelling[order.id]


async def _cancel_at_broker(
    session: AsyncSession,
    broker: BrokerClient,
    consumer: BrokerEventConsumer,
    order: Order,
    marked: asyncio.Event,
    timeout: float,
) -> Order:
    """Mark an acknowledged order pending_cancel (then set `marked`), and ask the broker.

    pending_cancel is written ahead, with a conditional update so that a fill the consumer
    committed meanwhile is never overwritten. An order already pending_cancel but with no
    cancel in flight here (a cancel cut short by a restart) is asked again. If the broker
    refuses or cannot be reached, the order goes back to working unless it ended meanwhile
    (then the answer is 409 ORDER_NOT_OPEN, as for any order that is no longer open).
    """
    previous = OrderStatus(order.status)
    if previous is not OrderStatus.PENDING_CANCEL:
        pending = await session.execute(
            update(Order)
            .where(Order.id == order.id, Order.status == previous.value)
            .values(status=OrderStatus.PENDING_CANCEL.value, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if pending.rowcount != 1:  # type: ignore[attr-defined]
            # The consumer moved it meanwhile (a fill, or the end of the order): look again.
            await session.rollback()
            await session.refresh(order)
            if OrderStatus(order.status) not in OPEN:
                raise OrderNotOpenError(order.id, order.status)
            return await _cancel_at_broker(session, broker, consumer, order, marked, timeout)
    record_event(session, order, "cancel_requested", to_status=OrderStatus.PENDING_CANCEL.value)
    await session.commit()
    await session.refresh(order)
    marked.set()
    await consumer.announce([order])
    assert order.broker_order_id is not None  # checked by `cancel`; never unset
    mark = consumer.last_received
    try:
        await call_broker(broker.cancel_order(order.broker_order_id), timeout=timeout)
    except (BrokerRejectedAppError, BrokerUnavailableAppError, BrokerTimeoutAppError) as exc:
        await _cancel_failed(session, consumer, order, previous, exc.message, timeout)
        if OrderStatus(order.status) not in OPEN:
            raise OrderNotOpenError(order.id, order.status) from exc
        raise
    return await after_broker_call(session, consumer, order, mark, timeout)


async def _cancel_failed(
    session: AsyncSession,
    consumer: BrokerEventConsumer,
    order: Order,
    previous: OrderStatus,
    reason: str,
    timeout: float,
) -> None:
    """Put an order whose cancel failed back to working, unless the broker ended it meanwhile.

    Whatever the broker reported before refusing (the fill that made the cancel too late,
    the cancel itself) is applied first, so the row is judged on the broker's latest word.
    """
    await consumer.wait_applied(consumer.last_received, timeout)
    await session.refresh(order)
    if order.status != OrderStatus.PENDING_CANCEL.value:
        await session.commit()
        return
    if order.filled_qty > 0:
        working = OrderStatus.PARTIALLY_FILLED
    elif previous is OrderStatus.PENDING_CANCEL:
        working = OrderStatus.SUBMITTED
    else:
        working = previous
    reverted = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING_CANCEL.value)
        .values(status=working.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if reverted.rowcount == 1:  # type: ignore[attr-defined]
        record_event(
            session,
            order,
            "cancel_failed",
            to_status=working.value,
            reason=f"the cancel did not go through: {reason}",
        )
    await session.commit()
    await session.refresh(order)
    await session.commit()
    await consumer.announce([order])


async def _record_cancel_intent(
    session: AsyncSession, consumer: BrokerEventConsumer, order: Order, timeout: float
) -> bool:
    """Mark a not yet acknowledged order pending_cancel; False if it was acknowledged meanwhile.

    Written only while the row is still unacknowledged (a conditional update), and checked
    again once the consumer has applied what it had received: an acknowledgement applied
    from a read older than this write would have overwritten the intent, and then the
    order is cancelled at the broker in the ordinary way.
    """
    now = utcnow()
    result = await session.execute(
        update(Order)
        .where(
            Order.id == order.id,
            Order.status == OrderStatus.PENDING_SUBMIT.value,
            Order.broker_order_id.is_(None),
        )
        .values(status=OrderStatus.PENDING_CANCEL.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        await session.refresh(order)
        return False
    session.add(
        OrderEvent(
            order_id=order.id,
            kind="cancel_requested",
            from_status=OrderStatus.PENDING_SUBMIT.value,
            to_status=OrderStatus.PENDING_CANCEL.value,
            reason="not yet acknowledged by the broker: cancelled as soon as it is found there,"
            " or when reconciliation shows the broker never had it",
        )
    )
    await session.commit()
    await consumer.wait_applied(consumer.last_received, timeout)
    await session.refresh(order)
    await session.commit()
    if order.status == OrderStatus.PENDING_CANCEL.value:
        await consumer.announce([order])
        return True
    return False


async def cancel_all(
    *, session: AsyncSession, trading: TradingContext
) -> tuple[list[Order], list[dict[str, Any]]]:
    """Ask the broker to cancel every open order; return those asked and the failures."""
    open_rows = (
        await session.execute(
            select(Order.id, Order.parent_id)
            .where(Order.status.in_([s.value for s in OPEN if s is not OrderStatus.PENDING_CANCEL]))
            .order_by(Order.id)
        )
    ).all()
    open_ids = {order_id for order_id, _ in open_rows}
    # Held bracket children go after their parent, whose cancel takes them along (or, for
    # a partly filled parent, activates them: then they are cancelled on their own).
    children = [order_id for order_id, parent_id in open_rows if parent_id in open_ids]
    cancelled: list[Order] = []
    failed: list[dict[str, Any]] = []
    for order_id, parent_id in open_rows:
        if parent_id not in open_ids:
            await _cancel_one(session, trading, order_id, cancelled, failed)
    for order_id in children:
        child = await get_or_raise(session=session, order_id=order_id)
        await session.refresh(child)
        if OrderStatus(child.status) in OPEN:
            await _cancel_one(session, trading, order_id, cancelled, failed)
        else:
            cancelled.append(child)
    return cancelled, failed


async def _cancel_one(
    session: AsyncSession,
    trading: TradingContext,
    order_id: int,
    cancelled: list[Order],
    failed: list[dict[str, Any]],
) -> None:
    try:
        cancelled.append(await cancel(session=session, trading=trading, order_id=order_id))
    except (OrderNotOpenError, BrokerRejectedAppError, BrokerTimeoutAppError) as exc:
        # It finished meanwhile, or the broker refused: report it, go on with the rest.
        failed.append({"order_id": order_id, "code": exc.code, "message": exc.message})


async def _working_order(session: AsyncSession, order_id: int, *, refresh: bool = False) -> Order:
    order = await get_or_raise(session=session, order_id=order_id)
    if refresh:
        await session.refresh(order)
    status = OrderStatus(order.status)
    if status not in OPEN or status is OrderStatus.PENDING_CANCEL:
        raise OrderNotOpenError(order.id, order.status)
    if order.broker_order_id is None:
        raise OrderNotOpenError(order.id, "not yet acknowledged by the broker")
    structlog.contextvars.bind_contextvars(order_id=order.id, client_order_id=order.client_order_id)
    return order
