"""The minimum price increment of US equities (Reg NMS Rule 612), in one place.

An order price at or above $1.00 moves in steps of 0.01, one below $1.00 in steps of
0.0001; IB refuses any other ("The price does not conform to the minimum price variation
for this contract."). A trailing amount is a distance, not a price: IB takes it in cents.
The API's request models (`orders.schemas`) and gateway-sim (`broker.gateway.order_terms`)
both refuse what this module calls off the grid, so the API never sends IB a price it
would refuse and gateway-sim refuses what IB refuses.
"""

from __future__ import annotations

from decimal import Decimal

SUB_DOLLAR_BELOW = Decimal("1.00")  # prices below this take the sub-penny increment
PENNY = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")
PRICE_RULE = "prices at or above 1.00 move in steps of 0.01, below 1.00 in steps of 0.0001"
TRAIL_RULE = "a trailing amount moves in steps of 0.01"
# The same rule as IB's market rules state it: (low edge, increment) from the lowest edge.
PRICE_INCREMENTS = ((Decimal(0), SUB_PENNY), (SUB_DOLLAR_BELOW, PENNY))


def price_increment(price: Decimal) -> Decimal:
    """The increment an order at `price` must be a multiple of."""
    return PENNY if price >= SUB_DOLLAR_BELOW else SUB_PENNY


def is_on_grid(value: Decimal, increment: Decimal) -> bool:
    """Whether `value` is a whole multiple of `increment` (exactly: Decimal arithmetic)."""
    return value % increment == 0


def off_tick_price(field: str, price: Decimal | None) -> str | None:
    """Why `price` (the value of `field`) is not a valid order price; None when it is."""
    if price is None:
        return None
    increment = price_increment(price)
    if is_on_grid(price, increment):
        return None
    return f"{field} {price} is not a multiple of the price increment {increment} ({PRICE_RULE})"


def off_tick_trail_amount(field: str, amount: Decimal | None) -> str | None:
    """Why `amount` (a trailing distance, the value of `field`) is off the 0.01 grid."""
    if amount is None or is_on_grid(amount, PENNY):
        return None
    return f"{field} {amount} is not a multiple of the price increment {PENNY} ({TRAIL_RULE})"
