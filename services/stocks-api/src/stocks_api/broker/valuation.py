"""Account figures from cash and marked positions: pure arithmetic, no I/O.

Margin follows Reg T for US stocks, as IBKR applies it to a margin account: initial
margin 50% of each position's value, maintenance 25% of a long and 30% of a short;
buying power is twice the available funds (2:1). A cash account borrows nothing: its
positions are fully paid, so both margins equal their value and buying power is the
cash itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from stocks_api.broker.protocol import AccountType

ZERO = Decimal(0)
REG_T_INITIAL = Decimal("0.50")
MAINTENANCE_LONG = Decimal("0.25")
MAINTENANCE_SHORT = Decimal("0.30")
REG_T_LEVERAGE = Decimal(2)
CUSHION_PLACES = Decimal("1E-6")


@dataclass(frozen=True, slots=True)
class MarkedPosition:
    """A signed quantity and the price it is marked at (None when no price is known)."""

    qty: Decimal
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class Figures:
    """An account's balance-sheet figures; every amount in the account's currency."""

    cash: Decimal
    market_value: Decimal
    gross_position_value: Decimal
    net_liquidation: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    available_funds: Decimal
    excess_liquidity: Decimal
    buying_power: Decimal
    cushion: Decimal
    leverage: Decimal


def account_figures(
    cash: Decimal, positions: Iterable[MarkedPosition], account_type: AccountType
) -> Figures:
    """Compute net liquidation, margins, buying power and cushion.

    A position without a price counts at zero value (and is reported as unpriced by the
    caller); it cannot be valued, and guessing would be worse.
    """
    market = gross = initial = maintenance = ZERO
    for position in positions:
        if position.price is None or position.qty == 0:
            continue
        value = position.qty * position.price
        market += value
        gross += abs(value)
        if account_type is AccountType.CASH:
            initial += abs(value)
            maintenance += abs(value)
        else:
            initial += abs(value) * REG_T_INITIAL
            rate = MAINTENANCE_LONG if position.qty > 0 else MAINTENANCE_SHORT
            maintenance += abs(value) * rate
    net_liquidation = cash + market
    available = net_liquidation - initial
    excess = net_liquidation - maintenance
    if account_type is AccountType.CASH:
        buying_power = max(cash, ZERO)
    else:
        buying_power = max(available, ZERO) * REG_T_LEVERAGE
    positive = net_liquidation > 0
    return Figures(
        cash=cash,
        market_value=market,
        gross_position_value=gross,
        net_liquidation=net_liquidation,
        initial_margin=initial,
        maintenance_margin=maintenance,
        available_funds=available,
        excess_liquidity=excess,
        buying_power=buying_power,
        cushion=(excess / net_liquidation).quantize(CUSHION_PLACES) if positive else ZERO,
        leverage=(gross / net_liquidation).quantize(CUSHION_PLACES) if positive else ZERO,
    )
