"""The simulated top of book of one symbol, as the market model (`market.py`) shows it.

Prices are kept as integer tick counts, so the book never leaves the tick grid and costs
no Decimal arithmetic per tick; they become Decimals only at the edges. A book follows the
model's slot of the current second; `shift` (ticks) is what a forced quote (`set_quote`,
tests and scripted scenarios) moved it away from the model, kept until the process ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from stocks_api.broker.sim.market import MarketState
from stocks_api.broker.sim.symbols import SymbolSpec


@dataclass(slots=True)
class Book:
    """The top of book of one symbol; `last` and `volume` are what the tape shows."""

    spec: SymbolSpec
    mid: int
    bid: int
    ask: int
    bid_size: Decimal
    ask_size: Decimal
    last: Decimal
    volume: Decimal
    shift: int = 0
    own_volume: Decimal = Decimal(0)  # what orders here traded, on top of the market's

    def price(self, ticks: int) -> Decimal:
        """Convert a tick count to a price."""
        return self.spec.tick_size * ticks

    def ticks(self, price: Decimal) -> int:
        """Convert a price to the nearest tick count."""
        return int((price / self.spec.tick_size).to_integral_value(ROUND_HALF_EVEN))

    def show(self, state: MarketState) -> None:
        """Show the model's market `state` (moved by `shift`), with fresh displayed sizes."""
        slot = state.slot
        self.mid = max(1, slot.mid + self.shift)
        self.bid = max(1, slot.bid + self.shift)
        self.ask = max(self.bid + 1, slot.ask + self.shift)
        self.last = self.price(max(1, slot.last + self.shift))
        self.bid_size = slot.bid_lots * self.spec.lot_size
        self.ask_size = slot.ask_lots * self.spec.lot_size
        self.volume = Decimal(state.day_volume) + self.own_volume


def new_book(spec: SymbolSpec, state: MarketState) -> Book:
    """Create the book of a symbol showing the market `state`."""
    zero = Decimal(0)
    book = Book(spec, 1, 1, 2, zero, zero, zero, zero)
    book.show(state)
    return book
