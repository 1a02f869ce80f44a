"""Orders inside the matching engine: their mutable state, snapshots and validation rules.

The rules here are pure: they look at a request (and, for changes, the order's state) and
say what is wrong in a sentence the API can show, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from stocks_api.broker.protocol import (
    BrokerOrderStatus,
    OrderChange,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from stocks_api.broker.sim.symbols import SymbolSpec

ZERO = Decimal(0)
LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
# Orders that wait for a stop before they trade.
TRIGGERED_TYPES = STOP_TYPES | {OrderType.TRAILING_STOP}
WORKING = frozenset({BrokerOrderStatus.SUBMITTED, BrokerOrderStatus.PARTIALLY_FILLED})
MAX_BRACKET_CHILDREN = 2
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class EngineOrder:
    """A snapshot of an order as the engine sees it; `request` reflects modifications.

    `stop_price` is the stop in force (a trailing stop's current level); `held` marks a
    bracket child waiting for its parent; `expires_at` is when a DAY order expires.
    """

    broker_order_id: str
    request: OrderRequest
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    status: BrokerOrderStatus
    triggered: bool
    commission: Decimal
    stop_price: Decimal | None = None
    held: bool = False
    expires_at: datetime | None = None
    parent_broker_order_id: str | None = None

    @property
    def remaining_qty(self) -> Decimal:
        """Quantity still to fill."""
        return self.request.qty - self.filled_qty


@dataclass(slots=True, eq=False)
class OrderState:
    """Mutable engine-side state of one order (compared by identity)."""

    broker_order_id: str
    request: OrderRequest
    status: BrokerOrderStatus = BrokerOrderStatus.SUBMITTED
    filled_qty: Decimal = ZERO
    filled_value: Decimal = ZERO
    commission: Decimal = ZERO
    executions: int = 0
    triggered: bool = False
    stop_price: Decimal | None = None
    held: bool = False
    expires_at: datetime | None = None
    parent: OrderState | None = None
    children: tuple[OrderState, ...] = ()

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill."""
        return self.request.qty - self.filled_qty

    @property
    def working(self) -> bool:
        """Whether the order can still fill (held bracket children included)."""
        return self.status in WORKING

    @property
    def trailing(self) -> bool:
        """Whether the order is a trailing stop."""
        return self.request.order_type is OrderType.TRAILING_STOP

    def snapshot(self) -> EngineOrder:
        """Return an immutable view of the order."""
        avg = self.filled_value / self.filled_qty if self.filled_qty else None
        return EngineOrder(
            self.broker_order_id,
            self.request,
            self.filled_qty,
            avg,
            self.status,
            self.triggered,
            self.commission,
            self.stop_price,
            self.held,
            self.expires_at,
            None if self.parent is None else self.parent.broker_order_id,
        )


def positive(value: Decimal) -> bool:
    """Tell whether `value` is a finite number above zero."""
    return value.is_finite() and value > 0


def request_problem(order: OrderRequest) -> str | None:
    """Return why a new order is invalid, or None when it is acceptable."""
    kind = order.order_type.value
    if not positive(order.qty):
        return f"quantity must be positive, got {order.qty}"
    if order.order_type in LIMIT_TYPES and order.limit_price is None:
        return f"a {kind} order needs a limit_price"
    if order.order_type not in LIMIT_TYPES and order.limit_price is not None:
        return f"limit_price is not allowed on a {kind} order"
    if order.order_type in STOP_TYPES and order.stop_price is None:
        return f"a {kind} order needs a stop_price"
    if order.order_type not in STOP_TYPES and order.stop_price is not None:
        return f"stop_price is not allowed on a {kind} order"
    for name, price in (("limit_price", order.limit_price), ("stop_price", order.stop_price)):
        if price is not None and not positive(price):
            return f"{name} must be positive, got {price}"
    if order.tif is TimeInForce.IOC and order.order_type in TRIGGERED_TYPES:
        return f"time in force ioc is not allowed on a {kind} order"
    return _trail_problem(order)


def _trail_problem(order: OrderRequest) -> str | None:
    """Return why the trailing terms of an order are invalid, or None."""
    amount, percent = order.trail_amount, order.trail_percent
    if order.order_type is not OrderType.TRAILING_STOP:
        if amount is not None or percent is not None:
            return (
                "trail_amount and trail_percent are only allowed on a trailing_stop order, "
                f"not a {order.order_type.value} order"
            )
        return None
    if (amount is None) == (percent is None):
        return "a trailing_stop order needs exactly one of trail_amount and trail_percent"
    if amount is not None and not positive(amount):
        return f"trail_amount must be positive, got {amount}"
    if percent is not None and not (percent.is_finite() and 0 < percent < _HUNDRED):
        return f"trail_percent must be between 0 and 100, got {percent}"
    return None


def qty_problem(spec: SymbolSpec, qty: Decimal) -> str | None:
    """Return why `qty` is not a quantity `spec` trades in, or None."""
    try:
        on_grid = qty % spec.qty_increment == 0
    except InvalidOperation:  # too many digits to divide exactly
        on_grid = False
    if on_grid:
        return None
    if spec.fractional:
        step = spec.qty_increment
        return f"{spec.symbol} trades in steps of {step} shares: quantity {qty} refused"
    return f"{spec.symbol} trades in whole shares: quantity {qty} refused"


def change_problem(order: OrderState, change: OrderChange) -> str | None:
    """Return why a modification of a working order is invalid, or None."""
    kind = order.request.order_type
    if change.qty is None and change.limit_price is None and change.stop_price is None:
        return "the modification changes nothing"
    if change.qty is not None:
        if not (positive(change.qty) and change.qty > order.filled_qty):
            return (
                f"quantity must be above the filled quantity {order.filled_qty}, got {change.qty}"
            )
        if order.held:
            return "a bracket child follows its parent's quantity until the parent fills"
    if change.limit_price is not None:
        if kind not in LIMIT_TYPES:
            return f"limit_price cannot be set on a {kind.value} order"
        if not positive(change.limit_price):
            return f"limit_price must be positive, got {change.limit_price}"
    if change.stop_price is not None:
        if kind not in STOP_TYPES:
            return f"stop_price cannot be set on a {kind.value} order"
        if order.triggered:
            return "stop_price cannot be changed after the stop triggered"
        if not positive(change.stop_price):
            return f"stop_price must be positive, got {change.stop_price}"
    return None


def bracket_problem(parent: OrderRequest, children: Sequence[OrderRequest]) -> str | None:
    """Return why a bracket's shape is invalid (sides, quantities, links), or None.

    Each request's own validity is checked separately.
    """
    if parent.parent_client_order_id is not None or parent.oca_group is not None:
        return "a bracket parent cannot itself have a parent or an oca_group"
    if not 1 <= len(children) <= MAX_BRACKET_CHILDREN:
        return f"a bracket needs 1 or {MAX_BRACKET_CHILDREN} children, got {len(children)}"
    opposite = Side.SELL if parent.side is Side.BUY else Side.BUY
    groups = {child.oca_group for child in children}
    for number, child in enumerate(children, start=1):
        problem = _child_problem(parent, child, opposite)
        if problem is not None:
            return f"bracket child {number}: {problem}"
    if len(groups) != 1:
        return "the children of a bracket must share one oca_group"
    ids = [parent.client_order_id, *(child.client_order_id for child in children)]
    if len(set(ids)) != len(ids):
        return "every order of a bracket needs its own client_order_id"
    return None


def _child_problem(parent: OrderRequest, child: OrderRequest, opposite: Side) -> str | None:
    """Return why one child does not fit its bracket parent, or None."""
    if child.symbol != parent.symbol:
        return f"symbol {child.symbol} differs from the parent's {parent.symbol}"
    if child.side is not opposite:
        return f"side must be {opposite.value}, opposite to the parent"
    if child.qty != parent.qty:
        return f"quantity {child.qty} differs from the parent's {parent.qty}"
    if child.parent_client_order_id != parent.client_order_id:
        return f"parent_client_order_id must be {parent.client_order_id!r}"
    if not child.oca_group:
        return "an oca_group is required"
    if child.tif is TimeInForce.IOC:
        # It would be cancelled the moment the parent fills.
        return "time in force ioc is not allowed on a bracket child"
    return None


def terms(request: OrderRequest) -> dict[str, str]:
    """Describe an order's terms as JSON-safe strings."""
    described: dict[str, object] = {"order_type": request.order_type, "side": request.side}
    described |= {"tif": request.tif, "qty": request.qty}
    described |= {"limit_price": request.limit_price, "stop_price": request.stop_price}
    described |= {"trail_amount": request.trail_amount, "trail_percent": request.trail_percent}
    described |= {
        "oca_group": request.oca_group,
        "outside_rth": "true" if request.outside_rth else None,
    }
    return {name: str(value) for name, value in described.items() if value is not None}
