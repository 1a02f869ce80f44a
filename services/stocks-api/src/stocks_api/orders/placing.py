"""Placing an order: checks, the risk gate, the write-ahead row, then the broker.

Placing is write-ahead: the order row is committed (status `pending_submit`) before the
broker sees the order, and the broker order carries our `client_order_id`, so a crash
between the two leaves a row that reconciliation resolves. Status changes reported by
the broker are applied only by `orders.consumer`; this module records the request and
waits briefly for the consumer so the response shows what the broker already did.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from stocks_api.broker.calls import call_broker
from stocks_api.broker.protocol import (
    BrokerOrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from stocks_api.core import metrics
from stocks_api.core.database import utcnow
from stocks_api.core.errors import (
    BrokerNotSentAppError,
    BrokerRejectedAppError,
    BrokerTimeoutAppError,
    BrokerUnavailableAppError,
)
from stocks_api.core.stages import stage
from stocks_api.orders.audit import record_event
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.context import TradingContext
from stocks_api.orders.exceptions import (
    IdempotencyConflictError,
    UnknownSymbolError,
)
from stocks_api.orders.models import Order, OrderEvent
from stocks_api.orders.open_orders import reservation, resync
from stocks_api.orders.proposals import propose_new
from stocks_api.orders.queries import by_client_id
from stocks_api.orders.schemas import OrderCreate
from stocks_api.orders.sending import (
    after_broker_call,
    broker_request,
    end_unsent,
    nothing_sent_yet,
    require_link,
)
from stocks_api.orders.state import OrderStatus
from stocks_api.risk import gate as risk_gate
from stocks_api.risk import service as risk_service
from stocks_api.risk.exceptions import AlreadyAdmittedError, RiskRejectedError

log = structlog.get_logger(__name__)

RISK_REJECTED_EVENT = "risk_rejected"


async def submit(
    *,
    session: AsyncSession,
    trading: TradingContext,
    order_in: OrderCreate,
    flatten: bool = False,
) -> tuple[Order, bool]:
    """Place an order (with its bracket legs), or replay the one with the same `client_order_id`.

    `flatten` marks the kill switch's closing orders (see `risk.checks`). Returns the
    order and whether this call sent it (created it, or sent an unsent one).

    Retries: an order whose row exists is replayed as it stands, except an `unsent` one
    (the broker was unreachable before anything was sent), which this call sends: through
    the risk checks again, once, with both attempts in its audit trail.
    """
    started = time.perf_counter()
    broker, consumer, risk = trading.broker, trading.consumer, trading.risk
    timeout = trading.timeout
    account = trading.account
    client_order_id = order_in.client_order_id or uuid.uuid4().hex
    request_hash = order_in.request_hash(client_order_id)
    structlog.contextvars.bind_contextvars(client_order_id=client_order_id)

    unsent: Order | None = None
    if order_in.client_order_id is not None:  # a generated id cannot have been used yet
        existing = await by_client_id(session, client_order_id)
        if existing is not None:
            if existing.status != OrderStatus.UNSENT.value or existing.request_hash != request_hash:
                return await _replay(session, existing, request_hash), False
            unsent = existing
        # End the read: the connection goes back to the pool while the order is judged and
        # written (by the write-ahead's own transaction).
        await session.commit()
    trading.guard.check()
    require_link(broker)  # before anything is written: nothing to resolve afterwards
    with nothing_sent_yet():
        contract = await call_broker(broker.contract(order_in.symbol), timeout=timeout)
        if contract is None:
            raise UnknownSymbolError(order_in.symbol)
        quote = await call_broker(broker.get_quote(order_in.symbol), timeout=timeout)
        proposed = propose_new(order_in, quote, flatten=flatten)
        if unsent is None:
            order = _new_order(order_in, client_order_id, request_hash)
            legs = _new_legs(order_in, order)
        else:
            order, legs = unsent, list(unsent.legs)
        try:
            admission = await risk_gate.admit(
                engine=risk,
                broker=broker,
                proposed=proposed,
                quote=quote,
                contract=contract,
                account=account,
                reserve=[(row.client_order_id, reservation(row)) for row in (order, *legs)],
                timeout=timeout,
            )
        except AlreadyAdmittedError:
            # The same client_order_id, admitted a moment ago: answer with that order.
            await trading.write_ahead.settled(client_order_id)
            return await _replay_winner(session, client_order_id, request_hash), False
    if not admission.admitted:
        try:
            await _store_risk_rejection(session, order, legs, admission.details)
        except IntegrityError:  # another request with this client_order_id was written
            return await _replay_winner(session, client_order_id, request_hash), False
        metrics.ORDERS.labels(type=order.order_type, side=order.side, status=order.status).inc()
        structlog.contextvars.bind_contextvars(order_id=order.id)
        log.info("risk_rejected", checks=[f["check"] for f in admission.details])
        # A new order's legs were never written (no ids): only what was is announced.
        await consumer.announce([order, *(leg for leg in legs if leg.id is not None)])
        raise RiskRejectedError(admission.details, order_id=order.id)
    try:
        with stage("write_ahead"):
            if unsent is None:
                if not await trading.write_ahead.write(session, order, legs):
                    raise _WrittenMeanwhile
            else:
                await _write_ahead_again(session, order, legs)
    except (IntegrityError, _WrittenMeanwhile):
        # Another request with the same client_order_id won the race; answer as a replay.
        # Its rows are the winner's now: the book holds them as written.
        await resync(risk.sessionmaker, risk.book, risk_gate.forget(admission))
        return await _replay_winner(session, client_order_id, request_hash), False
    except _SentMeanwhile:
        # A concurrent retry sent it first: answer with the order as that one left it.
        await resync(risk.sessionmaker, risk.book, risk_gate.forget(admission))
        await session.refresh(order)
        return await _replay(session, order, request_hash), False
    except asyncio.CancelledError:
        # The request went away while its batch was being written (the write goes on):
        # the book takes the row as it ends up.
        _resync_when_written(trading, client_order_id, risk_gate.forget(admission))
        raise
    except BaseException:
        risk_gate.release(risk, admission)  # not written: nothing to reserve for
        raise
    structlog.contextvars.bind_contextvars(order_id=order.id)
    for new in (order, *legs):
        metrics.ORDERS.labels(type=new.order_type, side=new.side, status=new.status).inc()
    await consumer.announce([order, *legs])
    halted = risk_gate.may_send(
        risk, proposed, client_order_id=client_order_id, account_id=trading.account_id
    )
    if halted:
        # Halted (or reducing) since admission: never sent, refused by the risk checks as if
        # at admission (a replay gets the same answer).
        details = [failure.as_detail() for failure in halted]
        await _store_risk_rejection(session, order, legs, details)
        for row in (order, *legs):
            risk.book.note_order(row.client_order_id, None)
        await consumer.announce([order, *legs])
        raise RiskRejectedError(details, order_id=order.id)

    mark = consumer.last_received
    parent_request = broker_request(order)
    sending = [new.client_order_id for new in (order, *legs)]
    # Nothing awaited since `may_send`: a halt from now on drains these (see `kill_switch`).
    # Reconciliation leaves orders on their way alone.
    consumer.in_flight.update(sending)
    try:
        with stage("broker"):
            if legs:
                children = [broker_request(leg, parent=order) for leg in legs]
                await call_broker(broker.place_bracket(parent_request, children), timeout=timeout)
            else:
                await call_broker(broker.place_order(parent_request), timeout=timeout)
    except BrokerNotSentAppError as exc:
        # Provably never sent: the row stays, not final, for a retry to send.
        await _keep_unsent(session, consumer, [order, *legs], exc.message)
        for row in (order, *legs):
            risk.book.note_order(row.client_order_id, None)  # unsent: not open
        exc.message = f"{exc.message}; the order was not sent: retry with the same client_order_id"
        exc.details = [{"order_id": order.id, "client_order_id": client_order_id}]
        raise
    except BrokerRejectedAppError as exc:
        # The broker refused it: record why, keep the rows (audit trail). Final.
        metrics.BROKER_ORDER_ERRORS.labels(reason="rejected").inc()
        await end_unsent(session, consumer, [order, *legs], BrokerOrderStatus.REJECTED, exc.message)
        await risk_service.note_broker_verdicts(engine=risk, verdicts=[False])
        exc.details = [{"order_id": order.id, "client_order_id": client_order_id}]
        raise
    except (BrokerTimeoutAppError, BrokerUnavailableAppError) as exc:
        # Unknown whether the broker has it (the connection failed after the write, or no
        # answer came): never sent again; reconciliation by client_order_id decides.
        metrics.BROKER_ORDER_ERRORS.labels(reason="no_answer").inc()
        log.error("place_order_fate_unknown", order_id=order.id, error=exc.message)
        raise BrokerTimeoutAppError(
            f"{exc.message}; the order may have reached the broker: it stays pending_submit"
            " until the broker's answer or reconciliation decides, and a retry with the same"
            " client_order_id answers its state",
            details=[{"order_id": order.id, "client_order_id": client_order_id}],
        ) from exc
    finally:
        consumer.done_sending(sending)
    consumer.note_sent(len(sending))
    metrics.ORDER_LATENCY.observe(time.perf_counter() - started)
    with stage("response"):
        return await after_broker_call(session, consumer, order, mark, timeout), True


async def _replay_winner(session: AsyncSession, client_order_id: str, request_hash: str) -> Order:
    """Answer as a replay of the request that wrote `client_order_id` first."""
    await session.rollback()
    winner = await by_client_id(session, client_order_id)
    if winner is None:  # the other request failed before its row was written
        raise BrokerNotSentAppError(
            "a concurrent request with this client_order_id failed before it was written;"
            " nothing was placed: retry"
        )
    return await _replay(session, winner, request_hash)


_BACKGROUND: set[asyncio.Task[None]] = set()  # kept until done (the loop holds tasks weakly)


def _resync_when_written(trading: TradingContext, client_order_id: str, ids: list[str]) -> None:
    async def resync_later() -> None:
        await trading.write_ahead.settled(client_order_id)
        await resync(trading.risk.sessionmaker, trading.risk.book, ids)

    task = asyncio.create_task(resync_later(), name="risk-book-resync")
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


class _WrittenMeanwhile(Exception):
    """Another request wrote an order with this client_order_id first."""


class _SentMeanwhile(Exception):
    """An unsent order was sent by a concurrent retry while this one waited."""


async def _store_risk_rejection(
    session: AsyncSession, order: Order, legs: list[Order], details: list[dict[str, Any]]
) -> None:
    """Keep a refused order in the audit trail: status rejected, with every failed check.

    A new order is written here for the first time (its legs never are); a retried
    unsent one is moved to rejected with its legs.
    """
    retried = order.id is not None
    reason = "risk: " + "; ".join(str(d["message"]) for d in details)
    if not retried:
        order.status = OrderStatus.REJECTED.value
        session.add(order)
        await session.flush()
        from_status = None
    else:
        from_status = order.status
        for leg in legs:
            record_event(
                session,
                leg,
                RISK_REJECTED_EVENT,
                to_status=OrderStatus.REJECTED.value,
                reason="its parent was refused by the risk checks",
            )
            leg.status = OrderStatus.REJECTED.value
            leg.reject_reason = "its parent was refused by the risk checks"
        order.status = OrderStatus.REJECTED.value
    order.reject_reason = reason
    session.add(
        OrderEvent(
            order_id=order.id,
            kind=RISK_REJECTED_EVENT,
            from_status=from_status,
            to_status=order.status,
            reason=order.reject_reason,
            payload={"request_hash": order.request_hash, "checks": details},
        )
    )
    await session.commit()
    if not retried:
        set_committed_value(order, "legs", [])  # never written: nothing to load


def _new_order(order_in: OrderCreate, client_order_id: str, request_hash: str) -> Order:
    now = utcnow()
    return Order(
        client_order_id=client_order_id,
        request_hash=request_hash,
        symbol=order_in.symbol,
        side=order_in.side.value,
        order_type=order_in.type.value,
        qty=order_in.qty,
        limit_price=order_in.limit_price,
        stop_price=order_in.stop_price,
        trail_amount=order_in.trail_amount,
        trail_percent=order_in.trail_percent,
        tif=order_in.tif.value,
        outside_rth=order_in.outside_rth,
        tag=order_in.tag,
        status=OrderStatus.PENDING_SUBMIT.value,
        filled_qty=0,
        created_at=now,
        updated_at=now,
    )


def _new_legs(order_in: OrderCreate, parent: Order) -> list[Order]:
    """Build a bracket's children: opposite side, same quantity, one OCA group."""
    if not order_in.is_bracket:
        return []
    side = Side.SELL if order_in.side is Side.BUY else Side.BUY
    oca_group = f"oca-{uuid.uuid4().hex}"
    # A leg inherits the parent's time in force, except that an ioc leg would vanish
    # the moment it activates: it works for the day instead.
    default_tif = TimeInForce.DAY if order_in.tif is TimeInForce.IOC else order_in.tif
    # (role, type, limit price, stop price, time in force) of each leg
    legs: list[tuple[str, OrderType, Decimal | None, Decimal | None, TimeInForce]] = []
    if order_in.take_profit is not None:
        legs.append(
            (
                "take_profit",
                OrderType.LIMIT,
                order_in.take_profit.limit_price,
                None,
                order_in.take_profit.tif or default_tif,
            )
        )
    if order_in.stop_loss is not None:
        stop_loss = order_in.stop_loss
        stop_type = OrderType.STOP if stop_loss.limit_price is None else OrderType.STOP_LIMIT
        legs.append(
            (
                "stop_loss",
                stop_type,
                stop_loss.limit_price,
                stop_loss.stop_price,
                stop_loss.tif or default_tif,
            )
        )
    return [
        Order(
            client_order_id=_leg_client_order_id(parent.client_order_id, role),
            request_hash=parent.request_hash,
            symbol=parent.symbol,
            side=side.value,
            order_type=order_type.value,
            qty=parent.qty,
            limit_price=limit_price,
            stop_price=stop_price,
            tif=tif.value,
            outside_rth=parent.outside_rth,
            oca_group=oca_group,
            tag=parent.tag,
            status=OrderStatus.PENDING_SUBMIT.value,
            filled_qty=0,
            created_at=parent.created_at,
            updated_at=parent.updated_at,
        )
        for role, order_type, limit_price, stop_price, tif in legs
    ]


def _leg_client_order_id(parent_client_order_id: str, role: str) -> str:
    """Derive a leg's id from its parent's, so it is stable and never the client's own."""
    digest = hashlib.sha256(f"{parent_client_order_id}:{role}".encode()).hexdigest()
    return f"leg-{digest[:40]}"


async def _write_ahead_again(session: AsyncSession, order: Order, legs: list[Order]) -> None:
    """Move an unsent order (and its legs) back to pending_submit, as a retry sends it.

    Only while it is still unsent (a conditional update): of two concurrent retries, one
    sends it and the other raises `_SentMeanwhile`.
    """
    now = utcnow()
    moved = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.UNSENT.value)
        .values(status=OrderStatus.PENDING_SUBMIT.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise _SentMeanwhile
    for row in (order, *legs):
        record_event(
            session,
            row,
            "resubmitted",
            to_status=OrderStatus.PENDING_SUBMIT.value,
            reason="retried with the same client_order_id",
        )
        row.status = OrderStatus.PENDING_SUBMIT.value
        row.updated_at = now
    await session.commit()


async def _keep_unsent(
    session: AsyncSession, consumer: BrokerEventConsumer, orders: list[Order], reason: str
) -> None:
    """Record that `orders` were never sent (not final: a retry sends them)."""
    await session.refresh(orders[0])
    if orders[0].status != OrderStatus.PENDING_SUBMIT.value:  # pragma: no cover - defensive
        log.error("unsent_order_moved", order_id=orders[0].id, status=orders[0].status)
        return
    now = utcnow()
    for row in orders:
        if row is not orders[0]:
            await session.refresh(row)
        record_event(session, row, "not_sent", to_status=OrderStatus.UNSENT.value, reason=reason)
        row.status = OrderStatus.UNSENT.value
        row.updated_at = now
    await session.commit()
    await consumer.announce(orders)


async def _replay(session: AsyncSession, existing: Order, request_hash: str) -> Order:
    """Answer a repeated request as the first one was answered (a risk refusal too)."""
    if existing.request_hash != request_hash:
        raise IdempotencyConflictError(existing.client_order_id)
    if existing.status == OrderStatus.REJECTED.value:
        checks = await session.scalar(
            select(OrderEvent.payload).where(
                OrderEvent.order_id == existing.id, OrderEvent.kind == RISK_REJECTED_EVENT
            )
        )
        if checks is not None:
            raise RiskRejectedError(checks["checks"], order_id=existing.id)
    return existing
