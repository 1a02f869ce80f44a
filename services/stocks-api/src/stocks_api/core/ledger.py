"""Position arithmetic: IBKR's average-cost method, in exact decimals.

Quantities are signed (a sell is negative, a short position is negative). The average
cost carries the commissions: buying 100 at 10.00 for a 1.00 commission costs 10.01 a
share; selling short 100 at 10.00 for 1.00 leaves an average of 9.99 (the net proceeds).
A fill that reduces a position realizes `qty closed x (price - average)` minus its
commission and leaves the average unchanged; a fill that crosses zero is split into a
closing part and an opening part, with the commission shared pro rata.

Averages and realized amounts are rounded (half even) to the database's 10 decimal
places, so both backends store and return the same digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PLACES = Decimal("1E-10")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Holding:
    """A position's state: signed quantity, average cost per share, realized P&L to date."""

    qty: Decimal = ZERO
    avg_cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class FillResult:
    """What one fill did: the new holding, the P&L it realized, and the cash it moved."""

    holding: Holding
    realized: Decimal
    cash_delta: Decimal


def signed_qty(side: str, qty: Decimal) -> Decimal:
    """Return `qty` as a signed quantity: positive for "buy", negative for "sell"."""
    return qty if side == "buy" else -qty


def apply_fill(holding: Holding, qty: Decimal, price: Decimal, commission: Decimal) -> FillResult:
    """Apply a fill of signed `qty` at `price` with `commission` (>= 0) to `holding`."""
    if qty == 0:
        raise ValueError("a fill needs a non-zero quantity")
    cash_delta = -qty * price - commission
    position = holding.qty
    if position == 0 or (position > 0) == (qty > 0):
        return FillResult(_open(holding, qty, price, commission), ZERO, cash_delta)
    if abs(qty) <= abs(position):
        realized = _realized(holding.avg_cost, qty, price, commission)
        remaining = position + qty
        holding = Holding(
            remaining,
            holding.avg_cost if remaining else ZERO,
            holding.realized_pnl + realized,
        )
        return FillResult(holding, realized, cash_delta)
    # Crossing zero: close the whole position, then open the rest on the other side.
    closing_commission = (commission * abs(position) / abs(qty)).quantize(PLACES)
    realized = _realized(holding.avg_cost, -position, price, closing_commission)
    flat = Holding(ZERO, ZERO, holding.realized_pnl + realized)
    opened = _open(flat, qty + position, price, commission - closing_commission)
    return FillResult(opened, realized, cash_delta)


def _open(holding: Holding, qty: Decimal, price: Decimal, commission: Decimal) -> Holding:
    """Add to (or open) a position: the commission raises a long's cost, lowers a short's."""
    new_qty = holding.qty + qty
    cost = holding.qty * holding.avg_cost + qty * price + commission
    return Holding(new_qty, (cost / new_qty).quantize(PLACES), holding.realized_pnl)


def _realized(avg_cost: Decimal, qty: Decimal, price: Decimal, commission: Decimal) -> Decimal:
    """P&L of closing with signed `qty` (opposite to the position) at `price`."""
    return (qty * (avg_cost - price) - commission).quantize(PLACES)


def market_value(qty: Decimal, price: Decimal) -> Decimal:
    """Return the signed market value of `qty` shares at `price` (negative for a short)."""
    return qty * price


def unrealized_pnl(qty: Decimal, avg_cost: Decimal, price: Decimal) -> Decimal:
    """Return the P&L of closing the whole position at `price`, before the closing commission."""
    return (qty * (price - avg_cost)).quantize(PLACES)
