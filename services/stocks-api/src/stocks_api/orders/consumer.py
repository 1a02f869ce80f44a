"""The one consumer of broker events: applies them to the database, then publishes them.

The broker pushes events into `sink` (synchronously, in the order it produced them).
A single task drains the queue in batches and applies each batch in one transaction;
applying is idempotent (fills are keyed by `exec_id`, status updates that change
nothing are ignored), so replays after a reconnect are harmless. Nothing else writes
broker state.

After each commit it publishes what changed, in the order it happened: `fill.created`,
`order.updated`, and `position.updated` for every position a fill moved (marked at the
fill's price; the live position marks revalue it at each new quote). Position listeners
(`on_positions`) hear of those positions right after the commit, before they are published.

Link events (connected, disconnected, IB unreachable) travel the same queue, so a
listener told "connected" knows that the replay the broker made before it is applied.

It remembers the committed state of the orders it last applied (`applied_since`), so a
request waiting for the broker's answer builds its response from it instead of reading
the order back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import structlog
from sqlalchemy import Table, and_, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import raiseload
from sqlalchemy.orm.attributes import set_committed_value

from stocks_api.broker.protocol import (
    BrokerEvent,
    BrokerOrderStatus,
    Execution,
    LinkEvent,
    OrderStatusUpdate,
)
from stocks_api.core import metrics
from stocks_api.core.database import utcnow
from stocks_api.core.money import MONEY_PLACES, exact_text, fixed_text
from stocks_api.core.sql import insert_returning, one_of_param
from stocks_api.core.stages import stage
from stocks_api.events.bus import EventBus
from stocks_api.orders.audit import AuditBatch
from stocks_api.orders.models import Fill, Order
from stocks_api.orders.open_orders import note_committed, resync
from stocks_api.orders.schemas import FillRead, OrderRead
from stocks_api.orders.state import OrderStatus, can_transition
from stocks_api.portfolio.booking import FillBook
from stocks_api.portfolio.positions import Holding, ValuedPosition, value
from stocks_api.portfolio.schemas import PositionRead
from stocks_api.risk.book import TradingBook

log = structlog.get_logger(__name__)

AVG_PRICE_PLACES = Decimal("1E-10")

_DIRECT_STATUS = {
    BrokerOrderStatus.SUBMITTED: OrderStatus.SUBMITTED,
    BrokerOrderStatus.CANCELLED: OrderStatus.CANCELLED,
    BrokerOrderStatus.REJECTED: OrderStatus.REJECTED,
    BrokerOrderStatus.EXPIRED: OrderStatus.EXPIRED,
}


class BrokerEventConsumer:
    """Applies broker events to orders and fills; see the module docstring."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        bus: EventBus,
        batch_size: int = 500,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._bus = bus
        self._batch_size = batch_size
        self._queue: asyncio.Queue[tuple[int, BrokerEvent]] = asyncio.Queue()
        self._received = 0
        self._applied = 0
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._verdict_listeners: list[Callable[[list[bool]], Awaitable[None]]] = []
        self._link_listeners: list[Callable[[LinkEvent], Awaitable[None]]] = []
        self._cancel_listeners: list[Callable[[list[str]], Awaitable[None]]] = []
        self._fill_listeners: list[Callable[[int], None]] = []
        self._sent_listeners: list[Callable[[int], None]] = []
        self._position_listeners: list[Callable[[list[ValuedPosition]], None]] = []
        # client_order_ids being sent to the broker right now (by orders.placing): not yet
        # known to the broker without being lost, so reconciliation leaves them alone.
        self.in_flight: set[str] = set()
        self._sent = asyncio.Event()  # set (and replaced) each time a broker call returns
        # Orders whose cancel is on its way to the broker (by orders.changing), each with an
        # event set once pending_cancel is written: a second cancel waits for it and answers
        # with the first one's state instead of asking the broker again.
        self.cancelling: dict[int, asyncio.Event] = {}
        # client_order_id -> (events received when the transaction that applied it began,
        # the order's columns as committed): the most recent APPLIED_KEPT orders.
        self._committed: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        # The risk engine's book (set by `main`): told after each commit what it changed.
        self.book: TradingBook | None = None

    def on_verdicts(self, listener: Callable[[list[bool]], Awaitable[None]]) -> None:
        """Await `listener` with the broker's verdicts on new orders (True: accepted), in order.

        Only events the broker pushed count; rejections this process records itself (an
        order that never reached the broker, reconciliation) are not the broker's verdicts.
        """
        self._verdict_listeners.append(listener)

    def on_link(self, listener: Callable[[LinkEvent], Awaitable[None]]) -> None:
        """Await `listener` with each link event, after the events before it are applied."""
        self._link_listeners.append(listener)

    def on_cancel_intents(self, listener: Callable[[list[str]], Awaitable[None]]) -> None:
        """Await `listener` with the broker ids of orders whose cancel waited for their ack.

        A cancel asked for before the broker acknowledged the order is recorded as intent
        (pending_cancel); when the acknowledgement arrives, the cancel is the listener's to send.
        """
        self._cancel_listeners.append(listener)

    def on_fills(self, listener: Callable[[int], None]) -> None:
        """Call `listener` (synchronously, never blocking) with the number of fills each
        commit booked, after the commit."""
        self._fill_listeners.append(listener)

    def on_positions(self, listener: Callable[[list[ValuedPosition]], None]) -> None:
        """Call `listener` (synchronously, never blocking) with the positions each commit's
        fills moved, as booked, after the commit and before they are published."""
        self._position_listeners.append(listener)

    def on_sent(self, listener: Callable[[int], None]) -> None:
        """Call `listener` (synchronously) with the number of orders each placement sent."""
        self._sent_listeners.append(listener)

    def done_sending(self, client_order_ids: Iterable[str]) -> None:
        """The broker call that sent these orders has returned (or failed)."""
        self.in_flight.difference_update(client_order_ids)
        self._sent.set()
        self._sent = asyncio.Event()

    async def drain_sending(self, timeout: float) -> bool:
        """Wait until every order being sent now has left (the kill switch's drain).

        Orders that start on their way after this call are not waited for: the sender checks
        the trading state just before, so after a halt none do. False on timeout.
        """
        waiting = set(self.in_flight)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while waiting & self.in_flight:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent.wait(), remaining)
        return True

    def note_sent(self, count: int) -> None:
        """Tell the listeners that `count` orders went to the broker (never blocks)."""
        for listener in self._sent_listeners:
            listener(count)

    def applied_since(self, client_order_id: str, mark: int) -> dict[str, Any] | None:
        """The order's columns as this consumer last committed them, if that transaction
        began after event `mark` was received (so after whatever the caller wrote before
        taking the mark: the consumer read the row afresh); None otherwise."""
        kept = self._committed.get(client_order_id)
        if kept is None or kept[0] <= mark:
            return None
        _, state = kept
        return state

    def _remember_applied(self, start: int, orders: Mapping[str, Order]) -> None:
        for client_order_id, order in orders.items():
            state = {key: getattr(order, key) for key in _ORDER_COLUMNS}
            self._committed[client_order_id] = (start, state)
            self._committed.move_to_end(client_order_id)
        while len(self._committed) > APPLIED_KEPT:
            self._committed.popitem(last=False)

    # -- intake -------------------------------------------------------------------

    def sink(self, event: BrokerEvent) -> None:
        """Take one event from the broker; never blocks."""
        self._received += 1
        self._queue.put_nowait((self._received, event))

    @property
    def last_received(self) -> int:
        """Sequence number of the newest event taken in (a mark for `wait_applied`)."""
        return self._received

    async def wait_applied(self, mark: int, timeout: float) -> bool:
        """Wait until every event up to `mark` is committed; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._applied < mark:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._task is None:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)
        return True

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        """Start the task that drains the queue."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="broker-event-consumer")

    async def stop(self) -> None:
        """Apply whatever is still queued, then stop (nothing received is dropped)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            await self._apply_next_batch()

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            try:
                await self._apply_next_batch(first)
            except Exception:  # the consumer must outlive any one bad batch
                log.exception("broker_consumer_error")

    async def _apply_next_batch(self, first: tuple[int, BrokerEvent] | None = None) -> None:
        batch = [first] if first is not None else []
        while len(batch) < self._batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if not batch:
            return
        try:
            events = [event for _, event in batch]
            links = [event for event in events if isinstance(event, LinkEvent)]
            if len(links) < len(events):
                with stage("consumer"):
                    await self.apply(
                        [e for e in events if not isinstance(e, LinkEvent)], from_broker=True
                    )
            for link in links:
                for link_listener in self._link_listeners:
                    try:
                        await link_listener(link)
                    except Exception:  # a listener's failure must not stop the consumer
                        log.exception("link_listener_failed")
        finally:
            # Progress even on failure (apply() has logged each failed event), so
            # waiters are released rather than hung.
            self._applied = batch[-1][0]
            self._progress.set()
            self._progress = asyncio.Event()

    # -- applying -----------------------------------------------------------------

    async def apply(
        self, events: Sequence[OrderStatusUpdate | Execution], *, from_broker: bool = False
    ) -> None:
        """Apply events in one transaction; if that fails, one by one, logging failures.

        `from_broker` marks events the broker pushed (their verdicts go to the listeners).
        """
        try:
            changed = await self._apply_in_transaction(events)
        except Exception:
            log.exception("broker_batch_failed", events=len(events))
            changed = _Changes()
            for event in events:
                try:
                    changed.merge(await self._apply_in_transaction([event]))
                except Exception:
                    metrics.BROKER_EVENT_ERRORS.labels(reason="exception").inc()
                    log.exception("broker_event_failed", broker_event=repr(event))
        if changed.positions:
            for position_listener in self._position_listeners:
                try:
                    position_listener(changed.positions)
                except Exception:  # a listener's failure must not stop the consumer
                    log.exception("position_listener_failed")
        await self._publish(changed)
        _count(changed, from_broker=from_broker)
        if changed.fills:
            for fill_listener in self._fill_listeners:
                fill_listener(len(changed.fills))
        if changed.cancel_intents:
            for cancel_listener in self._cancel_listeners:
                try:
                    await cancel_listener(changed.cancel_intents)
                except Exception:
                    log.exception("cancel_listener_failed")
        if from_broker and changed.verdicts:
            for verdict_listener in self._verdict_listeners:
                try:
                    await verdict_listener(changed.verdicts)
                except Exception:  # a listener's failure must not stop the consumer
                    log.exception("verdict_listener_failed")

    async def announce(self, orders: Sequence[Order]) -> None:
        """Publish the state of orders this process changed itself, after their commit.

        A new order's write-ahead row, a risk refusal and a modification are not broker
        events, but whoever follows `order.updated` must see them too.
        """
        if not self._bus.has_subscribers():
            return  # the order path builds no payloads nobody reads
        changes = _Changes()
        for order in orders:
            changes.note_order(order, capture=True)
        await self._publish(changes)

    async def _apply_in_transaction(
        self, events: Sequence[OrderStatusUpdate | Execution]
    ) -> _Changes:
        changes = _Changes()
        # Every change of an order is published (submitted, then filled), not only the
        # last state of a batch; payloads are built only when someone may listen.
        capture = self._bus.has_subscribers()
        start = self._received  # before the transaction begins (see `applied_since`)
        seen_at = self.book.clock if self.book is not None else 0  # before the rows are read
        audit = AuditBatch()
        fills: list[Fill] = []
        async with self._sessionmaker() as session, session.begin():
            orders, known_execs = await _orders_by_client_id(session, events, with_legs=capture)
            book = await FillBook.load(
                session,
                [e for e in events if isinstance(e, Execution) and e.exec_id not in known_execs],
            )
            for event in events:
                order = orders.get(event.client_order_id)
                if order is None:
                    metrics.BROKER_EVENT_ERRORS.labels(reason="unknown_order").inc()
                    log.warning("broker_event_for_unknown_order", broker_event=repr(event))
                    continue
                before = _visible_state(order)
                awaiting_ack = (
                    order.status == OrderStatus.PENDING_CANCEL.value
                    and order.broker_order_id is None
                )
                if isinstance(event, Execution):
                    if event.exec_id in known_execs:
                        continue  # a replay: stored already
                    known_execs.add(event.exec_id)
                    fill = _apply_execution(audit, order, event)
                    booked = book.book(event)
                    fill.realized_pnl = booked.realized_pnl
                    fills.append(fill)
                    changes.note_fill(fill)
                    changes.note_position(booked.position, event.price, capture=capture)
                else:
                    _apply_status(audit, order, event, cancelling=order.id in self.cancelling)
                    if before[0] != OrderStatus.REJECTED.value == order.status:
                        changes.rejections += 1
                    if before[0] == OrderStatus.PENDING_SUBMIT.value != order.status:
                        changes.verdicts.append(order.status != OrderStatus.REJECTED.value)
                if (
                    awaiting_ack
                    and order.broker_order_id
                    and order.status == OrderStatus.PENDING_CANCEL.value
                ):
                    changes.cancel_intents.append(order.broker_order_id)
                if _visible_state(order) != before:
                    # Set now rather than at the flush, so the snapshot below has it.
                    order.updated_at = utcnow()
                    changes.note_order(order, capture=capture)
            await session.flush()  # the orders' changes (one UPDATE form per set of columns)
            await _insert_fills(session, fills)
            await audit.write(session)
            await book.write(session)
        self._remember_applied(start, orders)  # committed: the block above has ended
        if self.book is not None:
            await self._note_book(orders.values(), book.accounts, changes, seen_at)
        return changes

    async def _note_book(
        self,
        orders: Iterable[Order],
        accounts: Mapping[str, Decimal],
        changes: _Changes,
        seen_at: int,
    ) -> None:
        """Tell the risk book what the commit changed: orders, positions, cash."""
        assert self.book is not None
        for position in changes.positions:
            self.book.note_position(position.account_id, position.symbol, position.qty)
        for account_id, cash in accounts.items():
            self.book.note_cash(account_id, cash)
        stale = note_committed(self.book, orders, seen_at=seen_at)
        if stale:  # another writer reported one of them after this transaction read it
            await resync(self._sessionmaker, self.book, stale)

    async def _publish(self, changes: _Changes) -> None:
        if not changes.published or not self._bus.has_subscribers():
            return
        for item in changes.published:
            if isinstance(item, Fill):  # rendered now: its id exists only after the flush
                data = FillRead.model_validate(item).model_dump(mode="json")
                await self._bus.publish("fill.created", data)
            else:
                topic, payload = item
                await self._bus.publish(topic, payload)


class _Changes:
    def __init__(self) -> None:
        self.fills: list[Fill] = []
        # What to publish, in the order it happened: fills, and (topic, payload) of orders
        # and positions as they were then.
        self.published: list[Fill | tuple[str, dict[str, Any]]] = []
        # Every position a fill moved, as booked (for the position listeners).
        self.positions: list[ValuedPosition] = []
        # Orders the broker's events rejected (a new order, or one it had accepted).
        self.rejections = 0
        # The broker's answers to new orders, in event order (True: accepted).
        self.verdicts: list[bool] = []
        # Broker ids of orders acknowledged after a cancel was asked for: to cancel now.
        self.cancel_intents: list[str] = []

    def note_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        self.published.append(fill)

    def note_order(self, order: Order, *, capture: bool) -> None:
        if capture:
            payload = OrderRead.model_validate(order).model_dump(mode="json")
            self.published.append(("order.updated", payload))

    def note_position(self, position: Holding, price: Decimal, *, capture: bool) -> None:
        """A fill moved `position`: publish it marked at the fill's price, the latest trade.

        The live position marks revalue it at the next quote.
        """
        valued = value(position, price)
        self.positions.append(valued)
        if capture:
            payload = PositionRead.model_validate(valued).model_dump(mode="json")
            self.published.append(("position.updated", payload))

    def merge(self, other: _Changes) -> None:
        self.fills.extend(other.fills)
        self.published.extend(other.published)
        self.positions.extend(other.positions)
        self.verdicts.extend(other.verdicts)
        self.rejections += other.rejections
        self.cancel_intents.extend(other.cancel_intents)


# Orders whose committed state the consumer keeps for responses: a request reads it within
# moments of the commit (evicted: it reads the row instead). About 2.5 kB each.
APPLIED_KEPT = 1_000
_ORDER_COLUMNS = tuple(attr.key for attr in inspect(Order).column_attrs)


def _count(changes: _Changes, *, from_broker: bool) -> None:
    """Count fills and the broker's rejections, whichever broker: the same series for both."""
    for fill in changes.fills:
        metrics.FILLS.labels(side=fill.side).inc()
    if from_broker and changes.rejections:
        metrics.BROKER_ORDER_ERRORS.labels(reason="rejected").inc(changes.rejections)


def _visible_state(order: Order) -> tuple[object, ...]:
    """What a reader of the order sees change (an event that changes none is not news)."""
    return (
        order.status,
        order.filled_qty,
        order.qty,
        order.stop_price,
        order.broker_order_id,
        order.reject_reason,
    )


# Built once (the same statements for every batch, each list bound as one parameter).
_ORDERS_AND_STORED_EXECS = (
    select(Order, Fill.exec_id)
    .outerjoin(Fill, and_(Fill.order_id == Order.id, one_of_param(Fill.exec_id, "exec_ids")))
    .where(one_of_param(Order.client_order_id, "ids"))
    .options(raiseload(Order.legs))  # read by `_load_legs` when needed, never lazily
)
_LEGS = (
    select(Order)
    .where(one_of_param(Order.parent_id, "parents"))
    .options(raiseload(Order.legs))
    .order_by(Order.id)
)


async def _orders_by_client_id(
    session: AsyncSession, events: Sequence[OrderStatusUpdate | Execution], *, with_legs: bool
) -> tuple[dict[str, Order], set[str]]:
    """The events' orders, and which of the events' executions are stored already.

    One statement for both (each order joined to its fills among the events' exec ids);
    the bracket legs only for the payloads (`OrderRead` has them), in one more.
    """
    ids = {event.client_order_id for event in events}
    exec_ids = {event.exec_id for event in events if isinstance(event, Execution)}
    rows = await session.execute(_ORDERS_AND_STORED_EXECS, {"ids": ids, "exec_ids": exec_ids})
    orders: dict[str, Order] = {}
    known: set[str] = set()
    for order, exec_id in rows:
        orders[order.client_order_id] = order
        if exec_id is not None:
            known.add(exec_id)
    if with_legs and orders:
        await _load_legs(session, orders.values())
    return orders, known


async def _load_legs(session: AsyncSession, orders: Iterable[Order]) -> None:
    """Set each order's `legs` (its bracket children, by id), and theirs (none)."""
    parents = {order.id: order for order in orders}
    legs: dict[int, list[Order]] = {order_id: [] for order_id in parents}
    for child in await session.scalars(_LEGS, {"parents": list(parents)}):
        assert child.parent_id is not None
        legs[child.parent_id].append(child)
        if child.id not in parents:
            set_committed_value(child, "legs", [])
    for order_id, order in parents.items():
        set_committed_value(order, "legs", legs[order_id])


_FILL_TABLE = cast(Table, Fill.__table__)
_FILL_COLUMNS = tuple(attr.key for attr in inspect(Fill).column_attrs if attr.key != "id")
_INSERT_FILLS = _FILL_TABLE.insert().returning(_FILL_TABLE.c.id, _FILL_TABLE.c.exec_id)


async def _insert_fills(session: AsyncSession, fills: Sequence[Fill]) -> None:
    """Insert the batch's new fills (Core, in chunks of fixed sizes) and set their ids."""
    if not fills:
        return
    rows = [{key: getattr(fill, key) for key in _FILL_COLUMNS} for fill in fills]
    ids = {
        exec_id: fill_id
        for fill_id, exec_id in await insert_returning(session, _INSERT_FILLS, rows)
    }
    for fill in fills:
        fill.id = ids[fill.exec_id]


def _apply_execution(audit: AuditBatch, order: Order, event: Execution) -> Fill:
    """Apply an execution to its order; the fill it makes (not yet written, no id)."""
    fill = Fill(
        exec_id=event.exec_id,
        order_id=order.id,
        account_id=event.account_id,
        symbol=event.symbol,
        side=event.side.value,
        qty=event.qty,
        price=event.price,
        commission=event.commission,
        currency=event.currency,
        executed_at=event.ts,
        created_at=utcnow(),
    )
    before = order.filled_qty
    order.filled_qty = before + event.qty
    average = ((order.avg_fill_price or Decimal(0)) * before + event.price * event.qty) / (
        order.filled_qty
    )
    # The column's scale (10 places), so both backends store the same digits.
    order.avg_fill_price = average.quantize(AVG_PRICE_PLACES)
    if order.broker_order_id is None:
        order.broker_order_id = event.broker_order_id
    target = OrderStatus.FILLED if order.filled_qty >= order.qty else OrderStatus.PARTIALLY_FILLED
    # Written as `FillRead` shows the fill (exact quantity and price, commission to cents),
    # so the audit trail and GET /fills agree; the fill row keeps the exact commission.
    payload = {
        "exec_id": event.exec_id,
        "qty": exact_text(event.qty),
        "price": exact_text(event.price),
        "commission": fixed_text(event.commission, MONEY_PLACES),
    }
    if target is OrderStatus.PARTIALLY_FILLED and order.status == OrderStatus.PENDING_CANCEL.value:
        # Part filled while a cancel is on its way: still pending_cancel, fill recorded.
        audit.add(order, "fill", payload=payload)
        return fill
    _move(audit, order, target, kind="fill", reason=None, payload=payload, at=event.ts)
    return fill


def _apply_status(
    audit: AuditBatch, order: Order, event: OrderStatusUpdate, *, cancelling: bool = False
) -> None:
    """Apply a status report. `cancelling`: this process's cancel of the order is on its way."""
    acknowledged_now = order.broker_order_id is None and bool(event.broker_order_id)
    if acknowledged_now:
        order.broker_order_id = event.broker_order_id
    changed = _apply_broker_terms(order, event)
    if event.status in _DIRECT_STATUS:
        target = _DIRECT_STATUS[event.status]
    else:
        # Fill states follow the stored fills, which are the source of truth: a broker
        # may report "filled" before the execution itself arrives.
        target = _status_from_fills(order)
    if (
        acknowledged_now
        and order.status == OrderStatus.PENDING_CANCEL.value
        and target in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)
    ):
        # Acknowledged after a cancel was asked for: it stays pending_cancel, and the
        # cancel goes to the broker now (see `on_cancel_intents`).
        audit.add(
            order,
            "broker_update",
            reason="acknowledged by the broker; the cancel asked for before is sent now",
            payload={"broker_status": event.status.value, **event.payload, **changed},
        )
        return
    if (
        cancelling
        and order.status == OrderStatus.PENDING_CANCEL.value
        and target is OrderStatus.SUBMITTED
    ):
        # A working report from before the broker saw the cancel (the answer to a
        # modification sent just before it): the cancel is still on its way, so the order
        # stays pending_cancel; the cancel's own answer decides (or `_cancel_failed`).
        audit.add(
            order,
            "broker_update",
            reason="still working at the broker; the cancel asked for is on its way",
            payload={"broker_status": event.status.value, **event.payload, **changed},
        )
        return
    if target.value == order.status:
        # No status change, but worth the audit trail ("stop triggered", "activated", ...).
        if event.reason or changed:
            payload = {"broker_status": event.status.value, **event.payload, **changed}
            audit.add(order, "broker_update", reason=event.reason, payload=payload)
        return
    if target is OrderStatus.REJECTED:
        order.reject_reason = event.reason
    _move(
        audit,
        order,
        target,
        kind="status",
        reason=event.reason,
        payload={"broker_status": event.status.value, **event.payload, **changed},
        at=event.ts,
    )


def _apply_broker_terms(order: Order, event: OrderStatusUpdate) -> dict[str, str]:
    """Take over a stop or quantity the broker moved (trailing stop, bracket child)."""
    changed = {}
    if event.stop_price is not None and event.stop_price != order.stop_price:
        order.stop_price = event.stop_price
        changed["stop_price"] = str(event.stop_price)
    if event.qty is not None and event.qty != order.qty:
        changed["old_qty"], changed["qty"] = str(order.qty), str(event.qty)
        order.qty = event.qty
    return changed


def _status_from_fills(order: Order) -> OrderStatus:
    if order.filled_qty >= order.qty:
        return OrderStatus.FILLED
    if order.filled_qty > 0:
        return OrderStatus.PARTIALLY_FILLED
    return OrderStatus(order.status)


def _move(
    audit: AuditBatch,
    order: Order,
    target: OrderStatus,
    *,
    kind: str,
    reason: str | None,
    payload: Mapping[str, object],
    at: datetime,
) -> None:
    """Apply a status change if the state machine allows it; record it either way."""
    current = OrderStatus(order.status)
    if not can_transition(current, target):
        # Never applied silently: the data (a fill, say) is kept, the status stays, and
        # the refusal is logged, counted and written to the audit trail.
        metrics.BROKER_EVENT_ERRORS.labels(reason="illegal_transition").inc()
        log.error(
            "illegal_transition",
            order_id=order.id,
            client_order_id=order.client_order_id,
            current=current.value,
            target=target.value,
        )
        reason = f"broker reported {target.value} for a {current.value} order"
        audit.add(order, "illegal_transition", reason=reason, payload=payload)
        return
    audit.add(order, kind, to_status=target.value, reason=reason, payload=payload)
    order.status = target.value
    if target is OrderStatus.SUBMITTED and order.submitted_at is None:
        order.submitted_at = at
    elif target is OrderStatus.FILLED:
        order.filled_at = at
    elif target in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        order.cancelled_at = at
    metrics.ORDERS.labels(type=order.order_type, side=order.side, status=target.value).inc()
