"""Stop levels: where a trailing stop sits, how it follows the market, when a stop triggers."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from stocks_api.broker.protocol import Side

_HUNDRED = Decimal(100)


def trail_stop(
    side: Side,
    last: Decimal,
    tick_size: Decimal,
    *,
    amount: Decimal | None,
    percent: Decimal | None,
) -> Decimal:
    """Return the stop `amount` or `percent` away from `last`, on the tick grid.

    A sell stop sits below the market and is rounded down, a buy stop sits above and is
    rounded up: rounding never brings the stop closer to the market than asked for.
    """
    if amount is not None:
        offset = amount
    elif percent is not None:
        offset = last * percent / _HUNDRED
    else:
        raise ValueError("a trailing stop needs an amount or a percent")
    if side is Side.SELL:
        return _on_grid(last - offset, tick_size, ROUND_FLOOR)
    return _on_grid(last + offset, tick_size, ROUND_CEILING)


def ratchet(side: Side, stop: Decimal, candidate: Decimal) -> Decimal:
    """Return the stop after following the market: towards it only, never back."""
    return max(stop, candidate) if side is Side.SELL else min(stop, candidate)


def stop_reached(side: Side, stop: Decimal, last: Decimal) -> bool:
    """Tell whether the last trade reached the stop (buy stops above, sell stops below)."""
    return last >= stop if side is Side.BUY else last <= stop


def _on_grid(price: Decimal, tick_size: Decimal, rounding: str) -> Decimal:
    """Round `price` to a multiple of `tick_size` in the given direction."""
    return (price / tick_size).to_integral_value(rounding) * tick_size
