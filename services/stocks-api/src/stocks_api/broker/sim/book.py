"""The simulated top of book of one symbol and the random walk that moves it.

Prices are kept as integer tick counts, so the walk never leaves the tick grid and costs
no Decimal arithmetic per step; they become Decimals only at the edges.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from stocks_api.broker.sim.symbols import SymbolSpec

_ZERO = Decimal(0)


def seeded_rng(key: str) -> random.Random:
    """Return a generator seeded from `key`; hashlib (not hash()) keeps it stable across runs."""
    digest = hashlib.sha256(key.encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - simulation only


@dataclass(slots=True)
class Book:
    """The top of book of one symbol; `last` and `volume` are what the tape shows."""

    spec: SymbolSpec
    rng: random.Random
    mid: int
    bid: int
    ask: int
    bid_size: Decimal
    ask_size: Decimal
    last: Decimal
    volume: Decimal

    def price(self, ticks: int) -> Decimal:
        """Convert a tick count to a price."""
        return self.spec.tick_size * ticks

    def ticks(self, price: Decimal) -> int:
        """Convert a price to the nearest tick count."""
        return int((price / self.spec.tick_size).to_integral_value(ROUND_HALF_EVEN))


def new_book(spec: SymbolSpec, seed: int) -> Book:
    """Create the opening book of a symbol around its start price."""
    mid = (spec.start_price / spec.tick_size).to_integral_value(ROUND_HALF_EVEN)
    book = Book(
        spec,
        seeded_rng(f"{seed}:{spec.symbol}"),
        max(1, int(mid)),
        0,
        0,
        _ZERO,
        _ZERO,
        last=_ZERO,
        volume=_ZERO,
    )
    refresh_touch(book)
    book.last = book.price(book.mid)
    book.volume = book.rng.randint(100, 5000) * spec.lot_size
    return book


def refresh_touch(book: Book) -> None:
    """Draw a new 1-3 tick spread around the mid and new displayed sizes."""
    spread = book.rng.randint(1, 3)
    book.bid = max(1, book.mid - spread // 2)
    book.ask = book.bid + spread
    book.bid_size = book.rng.randint(1, 10) * book.spec.lot_size
    book.ask_size = book.rng.randint(1, 10) * book.spec.lot_size


def step_book(book: Book, volatility: float) -> Decimal:
    """Move the mid by a Gaussian number of ticks, refresh the touch; return the volume traded."""
    sigma_ticks = max(1.0, book.mid * volatility)
    book.mid = max(1, book.mid + round(book.rng.gauss(0.0, sigma_ticks)))
    refresh_touch(book)
    # The rest of the market trades too, so `last` (and with it stop triggers) follows prices
    # even when nobody here trades.
    book.last = book.price(book.ask if book.rng.random() < 0.5 else book.bid)
    traded = book.rng.randint(1, 10) * book.spec.lot_size
    book.volume += traded
    return traded
