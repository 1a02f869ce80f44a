"""IBKR Pro "fixed" commissions for US stocks, in exact decimal arithmetic.

USD 0.005 per share, at least USD 1.00 per order, at most 1% of the trade value. The
minimum applies per order, so fills of one order are charged incrementally: each execution
pays the order's cumulative commission after it minus the cumulative commission before it.
"""

from __future__ import annotations

from decimal import Decimal

PER_SHARE = Decimal("0.005")
MIN_PER_ORDER = Decimal("1.00")
MAX_RATE = Decimal("0.01")

_ZERO = Decimal(0)


def order_commission(qty: Decimal, value: Decimal) -> Decimal:
    """Return the commission for an order that filled `qty` shares worth `value` in total."""
    if qty <= 0:
        # Nothing traded yet: the per-order minimum is only due once something fills.
        return _ZERO
    return min(max(PER_SHARE * qty, MIN_PER_ORDER), MAX_RATE * value)


def execution_commission(
    filled_qty: Decimal, filled_value: Decimal, qty: Decimal, price: Decimal
) -> Decimal:
    """Return the commission of a fill of `qty` at `price` after `filled_qty`/`filled_value`."""
    before = order_commission(filled_qty, filled_value)
    after = order_commission(filled_qty + qty, filled_value + qty * price)
    return after - before
