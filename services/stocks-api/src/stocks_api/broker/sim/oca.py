"""OCA groups of orders outside a bracket, as IB's ocaType sets them.

A fill of one order of the group changes the others: type 1 cancels them; types 2 and 3
reduce each in the proportion the filled order's remaining quantity shrank by, to its
symbol's quantity step, down (IB's "proportionately reduced", with and without its
overfill block; fills here come one at a time, so the two act alike), and cancel one
reduced to what it has already filled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import ROUND_DOWN, Decimal

from stocks_api.broker.sim.orders import OrderState

OCA_TYPES = frozenset({1, 2, 3})  # IB's ocaType of an OCA group outside a bracket


def group_changes(
    filled: OrderState,
    qty: Decimal,
    members: Iterable[OrderState],
    qty_step: Callable[[str], Decimal],
) -> list[tuple[OrderState, Decimal | None]]:
    """What a fill of `qty` of `filled` does to the other working `members`: each with its
    new quantity, or None to cancel it."""
    before = filled.remaining + qty
    changes: list[tuple[OrderState, Decimal | None]] = []
    for other in members:
        if other is filled or not other.working:
            continue
        if filled.request.oca_type == 1:
            changes.append((other, None))
            continue
        step = qty_step(other.request.symbol)
        target = other.request.qty * filled.remaining / before
        reduced = (target / step).to_integral_value(rounding=ROUND_DOWN) * step
        if reduced <= other.filled_qty:
            changes.append((other, None))
        elif reduced < other.request.qty:
            changes.append((other, reduced))
    return changes
