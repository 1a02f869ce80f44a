"""The order service: every way an order is placed, changed, cancelled or read.

Placing is write-ahead: the order row is committed (status `pending_submit`) before the
broker sees the order, and the broker order carries our `client_order_id`, so a crash
between the two leaves a row that reconciliation resolves. Status changes reported by
the broker are applied only by `orders.consumer`; this module records requests (the
new order, a modification, a cancel request) and waits briefly for the consumer so a
response shows what the broker already did.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from stocks_api.broker.calls import call_broker
from stocks_api.broker.guard import LiveTradingGuard
from stocks_api.broker.protocol import (
    AccountType,
    BrokerAccount,
    BrokerClient,
    BrokerOrderStatus,
    Contract,
    LinkState,
    OrderChange,
    OrderRequest,
    OrderStatusUpdate,
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
from stocks_api.core.pagination import paginate
from stocks_api.orders.audit import record_event
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.exceptions import (
    IdempotencyConflictError,
    InvalidModificationError,
    InvalidQuantityError,
    OrderNotFoundError,
    OrderNotOpenError,
    ShortSaleNotAllowedError,
    UnknownSymbolError,
)
from stocks_api.orders.models import Fill, Order, OrderEvent
from stocks_api.orders.schemas import FillFilters, OrderCreate, OrderFilters, OrderUpdate
from stocks_api.orders.state import OPEN, TERMINAL, OrderStatus
from stocks_api.positions.models import Position
from stocks_api.risk import service as risk_service
from stocks_api.risk.engine import RiskEngine
from stocks_api.risk.exceptions import RiskRejectedError

log = structlog.get_logger(__name__)

RISK_REJECTED_EVENT = "risk_rejected"

# -- placing ------------------------------------------------------------------------


async def submit(
    *,
    session: AsyncSession,
    broker: BrokerClient,
    consumer: BrokerEventConsumer,
    order_in: OrderCreate,
    timeout: float,
    guard: LiveTradingGuard,
    risk: RiskEngine,
    account: BrokerAccount | None = None,
    flatten: bool = False,
) -> tuple[Order, bool]:
    """Place an order (with its bracket legs), or replay the one with the same `client_order_id`.

    `account` is the account the order trades in (its type decides whether short sales
    are allowed). `flatten` marks the kill switch's closing orders (see `risk.checks`).
    Returns the order and whether this call sent it (created it, or sent an unsent one).

    Retries: an order whose row exists is replayed as it stands, except an `unsent` one
    (the broker was unreachable before anything was sent), which this call sends: through
    the risk checks again, once, with both attempts in its audit trail.
    """
    started = time.perf_counter()
    client_order_id = order_in.client_order_id or uuid.uuid4().hex
    request_hash = order_in.request_hash(client_order_id)
    structlog.contextvars.bind_contextvars(client_order_id=client_order_id)

    unsent: Order | None = None
    if order_in.client_order_id is not None:  # a generated id cannot have been used yet
        existing = await _by_client_id(session, client_order_id)
        if existing is not None:
            if existing.status != OrderStatus.UNSENT.value or existing.request_hash != request_hash:
                return await _replay(session, existing, request_hash), False
            unsent = existing
    guard.check()
    require_link(broker)  # before anything is written: nothing to resolve afterwards
    with _nothing_sent_yet():
        contract = await call_broker(broker.contract(order_in.symbol), timeout=timeout)
        if contract is None:
            raise UnknownSymbolError(order_in.symbol)
        check_qty_increment(contract, order_in.qty)
        if account is not None and account.account_type is AccountType.CASH:
            await _check_covered_sale(session, account.account_id, order_in)
        quote = await call_broker(broker.get_quote(order_in.symbol), timeout=timeout)
        proposed = risk_service.propose_new(order_in, quote, flatten=flatten)
        marks = await risk_service.prefetch_marks(
            engine=risk, broker=broker, quote=quote, timeout=timeout
        )

    if unsent is None:
        order = _new_order(order_in, client_order_id, request_hash)
        legs = _new_legs(order_in, order)
    else:
        order, legs = unsent, list(unsent.legs)
    try:
        async with risk.admission(session) as state:
            if unsent is not None and not await _still_unsent(session, order):
                raise _SentMeanwhile
            with _nothing_sent_yet():
                verdict = await risk_service.assess(
                    session=session,
                    engine=risk,
                    broker=broker,
                    state=state,
                    proposed=proposed,
                    marks=marks,
                    account_id=None if account is None else account.account_id,
                    timeout=timeout,
                )
            if verdict.failures:
                await _store_risk_rejection(session, order, legs, verdict.details)
            else:
                risk.pace.record(proposed.messages)
                if unsent is None:
                    await _write_ahead(session, order, legs)
                else:
                    await _write_ahead_again(session, order, legs)
    except IntegrityError:
        # Another request with the same client_order_id won the race; answer as a replay.
        await session.rollback()
        winner = await _by_client_id(session, client_order_id)
        if winner is None:  # pragma: no cover - the unique index guarantees a winner
            raise
        return await _replay(session, winner, request_hash), False
    except _SentMeanwhile:
        # A concurrent retry sent it first: answer with the order as that one left it.
        await session.refresh(order)
        return await _replay(session, order, request_hash), False
    await risk_service.trip_if_loss_breached(engine=risk, verdict=verdict)
    structlog.contextvars.bind_contextvars(order_id=order.id)
    if verdict.failures:
        metrics.ORDERS.labels(type=order.order_type, side=order.side, status=order.status).inc()
        log.info("risk_rejected", checks=[f["check"] for f in verdict.details])
        await consumer.announce([order, *legs])
        raise RiskRejectedError(verdict.details, order_id=order.id)
    for new in (order, *legs):
        metrics.ORDERS.labels(type=new.order_type, side=new.side, status=new.status).inc()
    await consumer.announce([order, *legs])

    mark = consumer.last_received
    parent_request = _broker_request(order)
    sending = [new.client_order_id for new in (order, *legs)]
    consumer.in_flight.update(sending)  # reconciliation leaves orders on their way alone
    try:
        if legs:
            children = [_broker_request(leg, parent=order) for leg in legs]
            await call_broker(broker.place_bracket(parent_request, children), timeout=timeout)
        else:
            await call_broker(broker.place_order(parent_request), timeout=timeout)
    except BrokerNotSentAppError as exc:
        # Provably never sent: the row stays, not final, for a retry to send.
        await _keep_unsent(session, consumer, [order, *legs], exc.message)
        exc.message = f"{exc.message}; the order was not sent: retry with the same client_order_id"
        exc.details = [{"order_id": order.id, "client_order_id": client_order_id}]
        raise
    except BrokerRejectedAppError as exc:
        # The broker refused it: record why, keep the rows (audit trail). Final.
        await _end_unsent(
            session, consumer, [order, *legs], BrokerOrderStatus.REJECTED, exc.message
        )
        await risk_service.note_broker_verdicts(engine=risk, verdicts=[False])
        exc.details = [{"order_id": order.id, "client_order_id": client_order_id}]
        raise
    except (BrokerTimeoutAppError, BrokerUnavailableAppError) as exc:
        # Unknown whether the broker has it (the connection failed after the write, or no
        # answer came): never sent again; reconciliation by client_order_id decides.
        log.error("place_order_fate_unknown", order_id=order.id, error=exc.message)
        raise BrokerTimeoutAppError(
            f"{exc.message}; the order may have reached the broker: it stays pending_submit"
            " until the broker's answer or reconciliation decides, and a retry with the same"
            " client_order_id answers its state",
            details=[{"order_id": order.id, "client_order_id": client_order_id}],
        ) from exc
    finally:
        consumer.in_flight.difference_update(sending)
    consumer.note_sent(len(sending))
    metrics.ORDER_LATENCY.observe(time.perf_counter() - started)
    return await _after_broker_call(session, consumer, order, mark, timeout), True


@contextlib.contextmanager
def _nothing_sent_yet() -> Iterator[None]:
    """Before the write-ahead, the broker failing to answer means nothing was sent: a 503."""
    try:
        yield
    except BrokerNotSentAppError:
        raise
    except (BrokerUnavailableAppError, BrokerTimeoutAppError) as exc:
        raise BrokerNotSentAppError(
            f"{exc.message}; nothing was placed: retry with the same client_order_id"
        ) from exc


class _SentMeanwhile(Exception):
    """An unsent order was sent by a concurrent retry while this one waited."""


def require_link(broker: BrokerClient) -> None:
    """Refuse (503) while orders cannot reach the broker, before anything is written."""
    if broker.is_connected:
        return
    info = broker.connection_info()
    if info.state is LinkState.IB_UNREACHABLE:
        raise BrokerNotSentAppError(
            "IB Gateway has lost its connection to IB (1100); nothing was placed, retry later"
        )
    raise BrokerNotSentAppError("the broker is not connected; nothing was placed, retry later")


async def _still_unsent(session: AsyncSession, order: Order) -> bool:
    await session.refresh(order)
    return order.status == OrderStatus.UNSENT.value


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


def check_qty_increment(contract: Contract, qty: Decimal) -> None:
    """Refuse a quantity the symbol does not trade in (fractions of whole-share symbols)."""
    if qty % contract.qty_increment == 0:
        return
    if contract.fractional:
        message = f"{contract.symbol} trades in steps of {contract.qty_increment} shares"
    else:
        message = f"{contract.symbol} trades in whole shares only; {qty} has a fraction"
    raise InvalidQuantityError(message)


async def _check_covered_sale(
    session: AsyncSession, account_id: str, order_in: OrderCreate
) -> None:
    """In a cash account, refuse a sell beyond the shares held and not yet offered."""
    if order_in.side is not Side.SELL:
        return
    held = await session.scalar(
        select(Position.qty).where(
            Position.account_id == account_id, Position.symbol == order_in.symbol
        )
    )
    open_qty = await risk_service.open_order_qty(session, symbol=order_in.symbol)
    offered = open_qty[order_in.symbol].sell if order_in.symbol in open_qty else Decimal(0)
    available = (held or Decimal(0)) - offered
    if order_in.qty > available:
        raise ShortSaleNotAllowedError(order_in.symbol, max(available, Decimal(0)))


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


async def _write_ahead(session: AsyncSession, order: Order, legs: list[Order]) -> None:
    session.add(order)
    await session.flush()
    for leg in legs:
        leg.parent_id = order.id
    session.add_all(legs)
    if legs:
        await session.flush()
    session.add_all(
        OrderEvent(
            order_id=new.id,
            kind="created",
            from_status=None,
            to_status=new.status,
            payload={"request_hash": new.request_hash}
            | ({"parent_id": new.parent_id} if new.parent_id else {}),
        )
        for new in (order, *legs)
    )
    await session.commit()
    # The rows just written are the whole family: no query needed to show them.
    set_committed_value(order, "legs", legs)
    for leg in legs:
        set_committed_value(leg, "legs", [])


async def _write_ahead_again(session: AsyncSession, order: Order, legs: list[Order]) -> None:
    """Move an unsent order (and its legs) back to pending_submit, as a retry sends it."""
    now = utcnow()
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


def _broker_request(order: Order, parent: Order | None = None) -> OrderRequest:
    return OrderRequest(
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=Side(order.side),
        qty=order.qty,
        order_type=OrderType(order.order_type),
        tif=TimeInForce(order.tif),
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        outside_rth=order.outside_rth,
        trail_amount=order.trail_amount,
        trail_percent=order.trail_percent,
        parent_client_order_id=None if parent is None else parent.client_order_id,
        oca_group=order.oca_group,
    )


async def _end_unsent(
    session: AsyncSession,
    consumer: BrokerEventConsumer,
    orders: list[Order],
    status: BrokerOrderStatus,
    reason: str,
) -> None:
    """End orders the broker never had (refused on sending, or never sent) as `status`."""
    # Goes through the consumer like any broker verdict, so one code path moves statuses.
    await consumer.apply(
        [
            OrderStatusUpdate(
                client_order_id=order.client_order_id,
                broker_order_id="",
                status=status,
                filled_qty=order.filled_qty,
                remaining_qty=order.qty,
                ts=utcnow(),
                reason=reason,
            )
            for order in orders
        ]
    )
    for order in orders:
        await session.refresh(order)


async def _after_broker_call(
    session: AsyncSession,
    consumer: BrokerEventConsumer,
    order: Order,
    mark: int,
    timeout: float,
) -> Order:
    # Events the call produced synchronously are queued; wait for them to be applied so
    # the response shows the acknowledgement (or the fill) rather than a stale row.
    if consumer.last_received > mark:
        await consumer.wait_applied(consumer.last_received, timeout)
    await session.refresh(order)
    for leg in order.legs:  # loaded with the parent, but possibly before the consumer ran
        await session.refresh(leg)
    # End the read transaction now, returning the connection to the pool before the
    # response is serialised and sent.
    await session.commit()
    return order


# -- reading ------------------------------------------------------------------------


async def _by_client_id(session: AsyncSession, client_order_id: str) -> Order | None:
    result = await session.scalars(select(Order).where(Order.client_order_id == client_order_id))
    return result.first()


async def by_broker_order_id(*, session: AsyncSession, broker_order_id: str) -> Order | None:
    """Return the order the broker knows as `broker_order_id`, if any."""
    result = await session.scalars(select(Order).where(Order.broker_order_id == broker_order_id))
    return result.first()


async def get_or_raise(*, session: AsyncSession, order_id: int) -> Order:
    """Return the order with our id `order_id` or raise `OrderNotFoundError`."""
    order = await session.get(Order, order_id)
    if order is None:
        raise OrderNotFoundError(str(order_id))
    return order


async def get_by_client_id_or_raise(*, session: AsyncSession, client_order_id: str) -> Order:
    """Return the order with `client_order_id` or raise `OrderNotFoundError`."""
    order = await _by_client_id(session, client_order_id)
    if order is None:
        raise OrderNotFoundError(f"with client_order_id {client_order_id!r}")
    return order


async def list_orders(
    *, session: AsyncSession, filters: OrderFilters
) -> tuple[list[Order], str | None]:
    """List orders newest first; return a page and the cursor of the next one."""
    query = select(Order)
    if filters.status == "open":
        query = query.where(Order.status.in_([s.value for s in OPEN]))
    elif filters.status == "closed":
        query = query.where(Order.status.in_([s.value for s in TERMINAL]))
    elif filters.status != "all":
        query = query.where(Order.status == OrderStatus(filters.status).value)
    if filters.symbol:
        query = query.where(Order.symbol == filters.symbol)
    if filters.side:
        query = query.where(Order.side == filters.side.value)
    if filters.since:
        query = query.where(Order.created_at >= filters.since)
    if filters.until:
        query = query.where(Order.created_at < filters.until)
    return await paginate(session, query, Order.id, filters.cursor, filters.limit)


async def list_events(*, session: AsyncSession, order_id: int) -> list[OrderEvent]:
    """Return an order's audit trail, oldest first."""
    await get_or_raise(session=session, order_id=order_id)
    rows = await session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
    )
    return list(rows)


async def list_fills(
    *, session: AsyncSession, filters: FillFilters
) -> tuple[list[Fill], str | None]:
    """List fills newest first; return a page and the cursor of the next one."""
    query = select(Fill)
    if filters.symbol:
        query = query.where(Fill.symbol == filters.symbol)
    if filters.order_id:
        query = query.where(Fill.order_id == filters.order_id)
    if filters.since:
        query = query.where(Fill.executed_at >= filters.since)
    return await paginate(session, query, Fill.id, filters.cursor, filters.limit)


# -- changing -----------------------------------------------------------------------


async def modify(
    *,
    session: AsyncSession,
    broker: BrokerClient,
    consumer: BrokerEventConsumer,
    order_id: int,
    change: OrderUpdate,
    timeout: float,
    guard: LiveTradingGuard,
    risk: RiskEngine,
    account: BrokerAccount | None = None,
) -> Order:
    """Change quantity, limit or stop price of an open order (through the risk checks)."""
    guard.check()
    order = await _working_order(session, order_id)
    _check_change(order, change)
    if change.qty is not None:
        contract = await call_broker(broker.contract(order.symbol), timeout=timeout)
        if contract is not None:
            check_qty_increment(contract, change.qty)
    quote = await call_broker(broker.get_quote(order.symbol), timeout=timeout)
    marks = await risk_service.prefetch_marks(
        engine=risk, broker=broker, quote=quote, timeout=timeout
    )
    async with risk.admission(session) as state:
        # Read again under the lock: a fill may have landed since the first read.
        order = await _working_order(session, order_id, refresh=True)
        _check_change(order, change)
        proposed = risk_service.propose_change(order, change, quote)
        verdict = await risk_service.assess(
            session=session,
            engine=risk,
            broker=broker,
            state=state,
            proposed=proposed,
            marks=marks,
            account_id=None if account is None else account.account_id,
            timeout=timeout,
            exclude_order_id=order.id,
        )
        old = _modifiable_fields(order)
        if verdict.failures:
            requested = change.model_dump(mode="json", exclude_none=True)
            record_event(
                session,
                order,
                "modify_rejected",
                reason="risk: " + "; ".join(str(d["message"]) for d in verdict.details),
                payload={"old": old, "requested": requested, "checks": verdict.details},
            )
        else:
            risk.pace.record(proposed.messages)
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
    await risk_service.trip_if_loss_breached(engine=risk, verdict=verdict)
    if verdict.failures:
        raise RiskRejectedError(verdict.details, order_id=order.id, what="modification")
    await consumer.announce([order])

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
    return await _after_broker_call(session, consumer, order, mark, timeout)


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


async def cancel(
    *,
    session: AsyncSession,
    broker: BrokerClient,
    consumer: BrokerEventConsumer,
    order_id: int,
    timeout: float,
) -> Order:
    """Ask the broker to cancel an open order.

    An order the broker has not acknowledged yet (pending_submit) may be at the broker
    or not: the cancel is recorded as intent (pending_cancel) and carried out the moment
    the broker reports the order, or completed by reconciliation when the broker never
    had it. An unsent order was never sent: it is cancelled here.
    """
    order = await get_or_raise(session=session, order_id=order_id)
    status = OrderStatus(order.status)
    if status is OrderStatus.UNSENT:
        reason = "cancelled before it was ever sent"
        await _end_unsent(
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
    return await _after_broker_call(session, consumer, order, mark, timeout)


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
    *,
    session: AsyncSession,
    broker: BrokerClient,
    consumer: BrokerEventConsumer,
    timeout: float,
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
            await _cancel_one(session, broker, consumer, order_id, timeout, cancelled, failed)
    for order_id in children:
        child = await get_or_raise(session=session, order_id=order_id)
        await session.refresh(child)
        if OrderStatus(child.status) in OPEN:
            await _cancel_one(session, broker, consumer, order_id, timeout, cancelled, failed)
        else:
            cancelled.append(child)
    return cancelled, failed


async def _cancel_one(
    session: AsyncSession,
    broker: BrokerClient,
    consumer: BrokerEventConsumer,
    order_id: int,
    timeout: float,
    cancelled: list[Order],
    failed: list[dict[str, Any]],
) -> None:
    try:
        cancelled.append(
            await cancel(
                session=session,
                broker=broker,
                consumer=consumer,
                order_id=order_id,
                timeout=timeout,
            )
        )
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
