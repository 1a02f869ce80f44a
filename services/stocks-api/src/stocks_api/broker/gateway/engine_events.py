"""The matching engine's order events into gateway-sim's books and out to the clients.

Each status change and fill of an order is booked first (and saved to the state file),
then told to the session that placed the order as IB tells it: openOrder and orderStatus,
for a rejection or a cancel the error before them, for a fill execDetails and
commissionReport after them. A fill changes the account, so every client subscribed to
positions or account updates hears of it too. A muted order (a fault) or a client not
connected is told nothing; the books are kept all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC
from decimal import Decimal

from stocks_api.broker.gateway import encoders
from stocks_api.broker.gateway.books import Books, ib_time
from stocks_api.broker.gateway.codes import ORDER_CANCELLED, ORDER_REJECTED
from stocks_api.broker.gateway.model import IbCommission, IbExecution, IbOrder, IbPosition
from stocks_api.broker.gateway.session import Session
from stocks_api.broker.protocol import (
    BrokerEvent,
    BrokerOrderStatus,
    Execution,
    OrderStatusUpdate,
    Side,
)
from stocks_api.broker.sim.broker import SimBroker

_WORKING = (BrokerOrderStatus.SUBMITTED, BrokerOrderStatus.PARTIALLY_FILLED)


class EngineEvents:
    """The event sink of one engine (`broker`'s); see the module docstring.

    `sessions` are the connected clients by clientId (kept current by the listener);
    `positions` values the account's holding in a symbol, for the subscribers of a fill.
    """

    def __init__(
        self,
        books: Books,
        broker: SimBroker,
        sessions: Mapping[int, Session],
        positions: Callable[[str], list[IbPosition]],
    ) -> None:
        self._books = books
        self._broker = broker
        self._sessions = sessions
        self._positions = positions

    def on_event(self, event: BrokerEvent) -> None:
        if not isinstance(event, Execution | OrderStatusUpdate):
            return  # the engine's own link events: the gateway is the link here
        if event.broker_order_id in self._books.superseded:
            return  # an order a modification replaced: its cancel is not the client's news
        order = self._books.orders.get(event.client_order_id)
        if order is None:
            return
        muted = event.client_order_id in self._books.muted
        session = None if muted else self._sessions.get(order.client_id)
        if isinstance(event, Execution):
            self._on_execution(order, event, session)
        else:
            self._on_status(order, event, session)
        self._books.flush()  # also when no client is told (muted, an outage, nobody connected)

    def _on_status(self, order: IbOrder, event: OrderStatusUpdate, session: Session | None) -> None:
        if event.stop_price is not None and order.order_type == "TRAIL":
            order.trail_stop_price = event.stop_price
        if event.qty is not None:
            order.total_qty = event.qty
        if event.status in _WORKING:
            # How the engine holds the order now, for a restart to put it back so.
            held = self._broker.engine.get_order(event.broker_order_id)
            order.held, order.triggered, order.expires_at = (
                held.held,
                held.triggered,
                held.expires_at,
            )
        else:
            order.held, order.expires_at = False, None
        self._books.save_order(order)
        if event.status is BrokerOrderStatus.SUBMITTED:
            order.status = "Submitted"
        elif event.status in (BrokerOrderStatus.CANCELLED, BrokerOrderStatus.EXPIRED):
            order.status = "Cancelled"
            order.completed_status = "Cancelled"
            order.completed_time = ib_time(event.ts)
        elif event.status is BrokerOrderStatus.REJECTED:
            order.status = "Inactive"
            order.completed_status = "Rejected"
            order.completed_time = ib_time(event.ts)
        else:
            return  # fill states follow executions
        if session is None:
            return
        # As IB does, the error telling why comes before the final status.
        if event.status is BrokerOrderStatus.REJECTED:
            session.error(
                order.order_id, ORDER_REJECTED, f"Order rejected - reason:{event.reason or ''}"
            )
        elif event.status in (BrokerOrderStatus.CANCELLED, BrokerOrderStatus.EXPIRED):
            session.error(
                order.order_id, ORDER_CANCELLED, f"Order Canceled - reason:{event.reason or ''}"
            )
        session.send(encoders.open_order(order, session.version))
        session.send(encoders.order_status(order))

    def _on_execution(self, order: IbOrder, event: Execution, session: Session | None) -> None:
        books = self._books
        before = order.filled
        order.filled = before + event.qty
        order.avg_fill_price = (
            order.avg_fill_price * before + event.price * event.qty
        ) / order.filled
        order.last_fill_price = event.price
        order.commission = (order.commission or Decimal(0)) + event.commission
        if order.filled >= order.total_qty:
            order.status = "Filled"
            order.completed_status = "Filled"
            order.completed_time = ib_time(event.ts)
        else:
            order.status = "Submitted"
        realized = books.book_fill(order.contract.symbol, event)
        exec_id = books.new_exec_id()
        execution = IbExecution(
            exec_id=exec_id,
            order_id=order.order_id,
            client_id=order.client_id,
            perm_id=order.perm_id,
            contract=order.contract,
            time=event.ts.astimezone(UTC),
            account=order.account,
            side="BOT" if event.side is Side.BUY else "SLD",
            shares=event.qty,
            price=event.price,
            cum_qty=order.filled,
            avg_price=order.avg_fill_price,
            order_ref=order.order_ref,
        )
        report = IbCommission(exec_id=exec_id, commission=event.commission, realized_pnl=realized)
        books.save_order(order)
        books.add_execution(execution, report)
        if session is not None:
            session.send(encoders.open_order(order, session.version))
            session.send(encoders.order_status(order))
            session.send(encoders.exec_details(-1, execution, session.version))
            session.send(encoders.commission_report(report))
        # Positions and the portfolio are the account's: every subscriber hears of them.
        changed = self._positions(order.contract.symbol)
        for other in list(self._sessions.values()):
            if other.positions_subscribed:
                for position in changed:
                    other.send(encoders.position(position))
            if other.account_updates:
                other.send_portfolio()
