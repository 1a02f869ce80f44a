"""The simulated market second by second: what IB's historical ticks and real-time bars show.

`market_seconds` walks the model's one-second slots (`market.py`) of a symbol between two
times, skipping the closed stretches, and gives each open second as a `Quote`: the touch,
the last price and the displayed sizes, moved as the book is (`Book.shift`, after a forced
quote), with `volume` the shares the model traded in that second (its minute's volume
spread evenly). What orders here traded is not in it: IB's historical ticks are the
exchange's tape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from stocks_api.broker.protocol import Quote
from stocks_api.broker.sim.bars import minute_of
from stocks_api.broker.sim.book import Book
from stocks_api.broker.sim.market import Slot, SymbolMarket
from stocks_api.core.calendar import SessionCalendar


def market_seconds(
    market: SymbolMarket,
    book: Book,
    calendar: SessionCalendar,
    *,
    first: int,
    last: int,
    limit: int,
    from_start: bool,
) -> list[Quote]:
    """The open seconds in [`first`, `last`) (epoch seconds), oldest first: at most
    `limit`, the newest ones, or with `from_start` the oldest ones."""
    found: list[Quote] = []

    def take(minute: int, seconds: range) -> None:
        slots = market.slots(minute)
        assert slots is not None
        bar = market.bar(minute)
        per_second = Decimal(bar[4]) / 60 if bar is not None else Decimal(0)
        for second in seconds:
            at = minute * 60 + second
            if first <= at < last and len(found) < limit:
                found.append(_second_quote(book, slots.slot(second), per_second, at))

    if from_start:
        minute = first // 60
        while minute * 60 < last and len(found) < limit:
            if market.slots(minute) is None:
                # Closed: on to the next session's first minute.
                at = datetime.fromtimestamp(minute * 60, UTC)
                minute = max(minute + 1, minute_of(calendar.next_extended_open(at)))
                continue
            take(minute, range(60))
            minute += 1
        return found
    minute = (last - 1) // 60
    while minute * 60 + 59 >= first and len(found) < limit:
        if market.slots(minute) is None:
            minute = market.last_open_minute(minute)
            continue
        take(minute, range(59, -1, -1))
        minute -= 1
    found.reverse()
    return found


def _second_quote(book: Book, slot: Slot, volume: Decimal, at: int) -> Quote:
    bid = max(1, slot.bid + book.shift)
    return Quote(
        symbol=book.spec.symbol,
        bid=book.price(bid),
        ask=book.price(max(bid + 1, slot.ask + book.shift)),
        last=book.price(max(1, slot.last + book.shift)),
        bid_size=slot.bid_lots * book.spec.lot_size,
        ask_size=slot.ask_lots * book.spec.lot_size,
        volume=volume.quantize(Decimal(1)),
        ts=datetime.fromtimestamp(at, UTC),
    )
