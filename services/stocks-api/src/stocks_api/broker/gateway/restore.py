"""Working orders put back into a fresh matching engine, as they were (a gateway-sim restart).

The engine has no public way to take an order that has already partly filled, whose stop
has triggered, or that belongs to a bracket whose parent is done, so this one function
builds the engine's own order states (`OrderState`) through its `_accept`, then sets
what the order had come to: filled quantity and value, commission, the number of
executions, the stop in force, and the bracket links. Nothing is reported (no events)
and nothing is matched: the orders work from the engine's next tick or quote on.

A bracket child waiting for its parent comes back held under it (its quantity follows the
parent's); children whose parent has filled come back as OCA siblings of each other,
linked through a stand-in for the finished parent, as the engine links them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from stocks_api.broker.protocol import BrokerOrderStatus, OrderRequest
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.broker.sim.orders import OrderState

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """One working order to put back; `request` carries its current terms and quantity."""

    request: OrderRequest
    filled_qty: Decimal = ZERO
    filled_value: Decimal = ZERO  # the sum of qty x price of its fills
    commission: Decimal = ZERO
    executions: int = 0
    triggered: bool = False
    stop_price: Decimal | None = None  # a trailing stop's level (None: the engine's own)
    held: bool = False  # a bracket child waiting for its parent, which is among the orders


def restore_working(engine: MatchingEngine, orders: Sequence[WorkingOrder]) -> dict[str, str]:
    """Register `orders` in `engine` as working orders; return broker ids by client order id.

    A child names its bracket parent in `request.parent_client_order_id`. A held child's
    parent must be among `orders`; a child that is not held works as the OCA sibling of
    the other children of the same parent.

    Raises:
        ValueError: a held child whose parent is not among `orders`.
    """
    states: dict[str, OrderState] = {}
    stand_ins: dict[str, OrderState] = {}
    # Parents first, so their held children find them.
    for order in sorted(orders, key=lambda o: o.request.parent_client_order_id is not None):
        request = order.request
        parent_id = request.parent_client_order_id
        if order.held:
            parent = states.get(parent_id or "")
            if parent is None:
                raise ValueError(
                    f"held bracket child {request.client_order_id}: its parent is not working"
                )
            state = engine._accept(request, parent=parent)
            parent.children = (*parent.children, state)
        else:
            state = engine._accept(request)
            if parent_id is not None:
                stand_in = stand_ins.get(parent_id)
                if stand_in is None:
                    stand_in = OrderState(
                        f"{parent_id}:done", request, status=BrokerOrderStatus.FILLED
                    )
                    stand_ins[parent_id] = stand_in
                state.parent = stand_in
                stand_in.children = (*stand_in.children, state)
        state.filled_qty = order.filled_qty
        state.filled_value = order.filled_value
        state.commission = order.commission
        state.executions = order.executions
        state.triggered = order.triggered
        if order.stop_price is not None:
            state.stop_price = order.stop_price
        if order.filled_qty > 0:
            state.status = BrokerOrderStatus.PARTIALLY_FILLED
        states[request.client_order_id] = state
    return {client_order_id: state.broker_order_id for client_order_id, state in states.items()}
