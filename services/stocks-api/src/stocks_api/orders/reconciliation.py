"""Reconciliation: no order is left in a state nobody can resolve, whatever the link did.

It runs at start, after every reconnect and every restoration of IB behind an open socket
(IB's 1101/1102), and as a sweep every few seconds while an order waits for a broker
acknowledgement longer than it should. Each run first has the broker's replay (open and
completed orders, executions: applied by the consumer, by `client_order_id`) behind it,
then asks the broker which orders it works, and resolves, with an audit event saying why,
the open orders of ours that the broker does not know:

- never acknowledged (pending_submit): rejected, "never reached the broker";
- a cancel asked for before the acknowledgement (pending_cancel, no broker id):
  cancelled, the broker never had it;
- acknowledged but no longer working (only after a reconnect or a restart, when the
  broker's replay of completed orders has already applied what ended): cancelled.

Only orders last changed before the link went down (or, for the sweep, before a grace
period) are judged, and never one that this process is sending right now: an order on its
way is not yet known to the broker without being lost. Afterwards positions are compared
with the broker's own (`reqPositions`): a difference is logged, counted and shown in
`GET /api/v1/broker`, never written over.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from stocks_api.broker.calls import call_broker
from stocks_api.broker.protocol import BrokerClient, BrokerOrderStatus, OrderStatusUpdate
from stocks_api.core import metrics
from stocks_api.core.database import utcnow
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.models import Order
from stocks_api.orders.state import OPEN, OrderStatus
from stocks_api.portfolio.models import Position

log = structlog.get_logger(__name__)

UNACKNOWLEDGED = (OrderStatus.PENDING_SUBMIT.value, OrderStatus.PENDING_CANCEL.value)
# A position that differs is looked at again this often before it is reported.
POSITION_RECHECKS = 2
POSITION_RECHECK_SECONDS = 1.0
# When a run happens, in the words of an audit trail.
OCCASIONS = {
    "start": "after a restart",
    "reconnect": "after a reconnect",
    "restored": "after IB's connectivity was restored",
    "sweep": "after waiting for the broker's acknowledgement",
}


@dataclass(frozen=True, slots=True)
class PositionDifference:
    account_id: str
    symbol: str
    ours: Decimal
    broker: Decimal


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What one run found and did."""

    at: datetime
    trigger: str  # start, reconnect, restored, sweep
    resolved: list[dict[str, Any]] = field(default_factory=list)
    # None: the broker keeps no books of its own (the simulator), nothing to compare.
    position_differences: list[PositionDifference] | None = None


async def reconcile(
    *,
    session: AsyncSession,
    broker: BrokerClient,
    consumer: BrokerEventConsumer,
    timeout: float,
    before: datetime,
    trigger: str,
    only_unacknowledged: bool = False,
    resync: bool = False,
) -> Reconciliation:
    """Resolve the open orders last changed before `before` that the broker does not know.

    `resync` asks the broker to replay first (the sweep; a (re)connect has replayed
    already). `only_unacknowledged` judges only orders without a broker id (the sweep:
    while the link stayed up, the broker reports every end of an acknowledged order).
    """
    if resync:
        await call_broker(broker.resync(), timeout=timeout)
    if not await consumer.wait_applied(consumer.last_received, timeout):
        log.warning("reconcile_replay_not_applied", timeout=timeout)
    working = await call_broker(broker.open_order_ids(), timeout=timeout)
    # What the open-order request itself brought in (IB answers it with openOrder and
    # orderStatus messages) is applied before the rows are read.
    await consumer.wait_applied(consumer.last_received, timeout)
    query = select(Order).where(
        Order.status.in_([s.value for s in OPEN]), Order.updated_at < before
    )
    if only_unacknowledged:
        query = query.where(Order.broker_order_id.is_(None))
    rows = list(await session.scalars(query.order_by(Order.id)))
    await session.commit()  # a fresh read next time
    now = utcnow()
    events, resolved = [], []
    for order in rows:
        if order.client_order_id in working or order.client_order_id in consumer.in_flight:
            continue
        status, reason, outcome = _verdict(order, OCCASIONS.get(trigger, trigger))
        events.append(
            OrderStatusUpdate(
                client_order_id=order.client_order_id,
                broker_order_id=order.broker_order_id or "",
                status=status,
                filled_qty=order.filled_qty,
                remaining_qty=order.qty - order.filled_qty,
                ts=now,
                reason=reason,
                payload={"reconciliation": trigger},
            )
        )
        resolved.append({"order_id": order.id, "outcome": outcome, "reason": reason})
        metrics.RECONCILED_ORDERS.labels(outcome=outcome).inc()
    if events:
        await consumer.apply(events)
        log.warning("reconciled_orders", trigger=trigger, orders=resolved)
    differences = await compare_positions(session=session, broker=broker, timeout=timeout)
    for _ in range(POSITION_RECHECKS):
        if not differences:
            break
        # Fills IB counted in its positions may still be on their way: look once more.
        await asyncio.sleep(POSITION_RECHECK_SECONDS)
        await call_broker(broker.resync(), timeout=timeout)
        await consumer.wait_applied(consumer.last_received, timeout)
        differences = await compare_positions(session=session, broker=broker, timeout=timeout)
    _report_differences(differences)
    return Reconciliation(
        at=now, trigger=trigger, resolved=resolved, position_differences=differences
    )


def _verdict(order: Order, occasion: str) -> tuple[BrokerOrderStatus, str, str]:
    """How an open order the broker does not know ends, and why."""
    if order.broker_order_id is None:
        if order.status == OrderStatus.PENDING_CANCEL.value:
            return (
                BrokerOrderStatus.CANCELLED,
                "cancelled before the broker acknowledged it; the broker never had it"
                f" (reconciled {occasion})",
                "cancelled_never_reached",
            )
        return (
            BrokerOrderStatus.REJECTED,
            f"never reached the broker: unknown to it when reconciled {occasion}",
            "never_reached",
        )
    return (
        BrokerOrderStatus.CANCELLED,
        f"no longer working at the broker when reconciled {occasion}",
        "no_longer_working",
    )


async def compare_positions(
    *, session: AsyncSession, broker: BrokerClient, timeout: float
) -> list[PositionDifference] | None:
    """Compare our positions with the broker's (None: it keeps no books of its own)."""
    theirs = await call_broker(broker.positions(), timeout=timeout)
    if theirs is None:
        return None
    ours = {
        (row.account_id, row.symbol): row.qty
        for row in await session.scalars(select(Position).where(Position.qty != 0))
    }
    await session.commit()
    differences = [
        PositionDifference(key[0], key[1], ours.get(key, Decimal(0)), theirs.get(key, Decimal(0)))
        for key in sorted(set(ours) | set(theirs))
        if ours.get(key, Decimal(0)) != theirs.get(key, Decimal(0))
    ]
    return differences


def _report_differences(differences: list[PositionDifference] | None) -> None:
    if differences is None:
        return
    metrics.BROKER_POSITION_DIFFERENCES.set(len(differences))
    if differences:
        log.error(
            "position_mismatch",
            differences=[
                {
                    "account_id": d.account_id,
                    "symbol": d.symbol,
                    "ours": str(d.ours),
                    "broker": str(d.broker),
                }
                for d in differences
            ],
        )


class Reconciler:
    """Runs `reconcile` when asked (start, reconnect, restoration) and as a periodic sweep.

    Runs never overlap. The newest result is kept in `last` for `GET /api/v1/broker`.
    """

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        broker: BrokerClient,
        consumer: BrokerEventConsumer,
        timeout: float,
        interval: float,
        grace: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._broker = broker
        self._consumer = consumer
        self._timeout = timeout
        self._interval = interval
        self._grace = grace
        self._lock = asyncio.Lock()
        self._requests: asyncio.Queue[tuple[str, datetime]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.last: Reconciliation | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="reconciler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def request(self, trigger: str, *, before: datetime) -> None:
        """Reconcile soon (never blocks): orders last changed before `before` are judged."""
        self._requests.put_nowait((trigger, before))

    async def run(
        self, trigger: str, *, before: datetime, sweep: bool = False
    ) -> Reconciliation | None:
        """Reconcile now; None when the broker is not connected (the next link event asks)."""
        async with self._lock:
            if not self._broker.is_connected:
                return None
            async with self._sessionmaker() as session:
                result = await reconcile(
                    session=session,
                    broker=self._broker,
                    consumer=self._consumer,
                    timeout=self._timeout,
                    before=before,
                    trigger=trigger,
                    only_unacknowledged=sweep,
                    resync=sweep,
                )
            self.last = result
            return result

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._interval):
                    trigger, before = await self._requests.get()
                sweep = False
            except TimeoutError:
                trigger, before, sweep = "sweep", utcnow() - timedelta(seconds=self._grace), True
                if not await self._anything_waiting(before):
                    continue
            try:
                await self.run(trigger, before=before, sweep=sweep)
            except Exception as exc:
                log.warning("reconcile_failed", trigger=trigger, error=str(exc))
                if not sweep:  # asked for: try again after a pause (a sweep comes anyway)
                    await asyncio.sleep(self._interval)
                    self._requests.put_nowait((trigger, before))

    async def _anything_waiting(self, before: datetime) -> bool:
        """Whether an order has waited since before `before` for the broker's acknowledgement."""
        async with self._sessionmaker() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(Order)
                .where(
                    Order.status.in_(UNACKNOWLEDGED),
                    Order.broker_order_id.is_(None),
                    Order.updated_at < before,
                )
            )
        return bool(waiting)
