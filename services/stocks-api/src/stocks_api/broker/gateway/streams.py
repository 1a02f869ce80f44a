"""The streaming subscriptions a client holds, each updated on the gateway's quote ticks.

`Session.streams` keeps them by request id; the gateway's tick loop calls `tick` on each
(the plain quotes of reqMktData have their own path, `Session.send_quote`). Every stream
sends what changed since its last tick, as IB streams:

- `TickByTick`: reqTickByTickData's Last/AllLast (a trade: the last price or the day's
  volume moved), BidAsk (the touch moved; with ignoreSize only a price move) or MidPoint.
- `Depth`: reqMktDepth's book, a few levels each side of the quote at tick steps, sizes
  from the quote's and a fixed profile deeper in; inserts first, then updates.
- `RealTimeBars`: reqRealTimeBars's 5-second bars, each sent once its 5 seconds are over,
  made from the market's own seconds (so they agree with historical ticks).
- `BarUpdates`: reqHistoricalData with keepUpToDate: the newest bar, again each second.
- `Pnl` and `PnlSingle`: reqPnL and reqPnLSingle, about once a second (IB: every second).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from stocks_api.broker.gateway import encoders_market as market
from stocks_api.broker.gateway.model import IbBar
from stocks_api.broker.gateway.session import Session
from stocks_api.broker.protocol import Bar, BarInterval, Quote

REAL_TIME_BAR_SECONDS = 5
DEPTH_PROFILE = (1, 3, 2, 4, 5, 3, 6, 4, 7, 5)  # lots beyond the touch, by level
MAX_DEPTH_ROWS = 10


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


@dataclass
class _OncePerSecond:
    """At most one update a second, whatever the gateway's tick rate (IB's pace)."""

    _at: float = 0.0

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._at < 1:
            return False
        self._at = now
        return True


@dataclass
class TickByTick:
    req_id: int
    symbol: str
    kind: str  # Last, AllLast, BidAsk, MidPoint
    ignore_size: bool = False
    _last: tuple[Decimal, ...] | None = None

    async def tick(self, session: Session) -> None:
        quote = session.backend.quote(self.symbol)
        epoch = _epoch(quote.ts)
        if self.kind in ("Last", "AllLast"):
            key: tuple[Decimal, ...] = (quote.last, quote.volume)
            if self._last is not None and key != self._last:
                size = max(quote.volume - self._last[1], Decimal(0))
                kind = 1 if self.kind == "Last" else 2
                session.send(
                    market.tick_by_tick_last(self.req_id, kind, epoch, quote.last, size, "ISLAND")
                )
        elif self.kind == "BidAsk":
            key = (quote.bid, quote.ask)
            if not self.ignore_size:
                key += (quote.bid_size, quote.ask_size)
            if key != self._last:
                session.send(
                    market.tick_by_tick_bid_ask(
                        self.req_id, epoch, quote.bid, quote.ask, quote.bid_size, quote.ask_size
                    )
                )
        else:
            key = ((quote.bid + quote.ask) / 2,)
            if key != self._last:
                session.send(market.tick_by_tick_mid_point(self.req_id, epoch, key[0]))
        self._last = key


@dataclass
class Depth:
    req_id: int
    symbol: str
    rows: int
    tick_size: Decimal
    lot_size: Decimal
    smart: bool
    _sent: dict[tuple[int, int], tuple[Decimal, Decimal]] = field(default_factory=dict)

    def levels(self, quote: Quote) -> dict[tuple[int, int], tuple[Decimal, Decimal]]:
        """(side, position) -> (price, size); side 0 the asks, 1 the bids (IB's sides)."""
        found = {}
        for position in range(self.rows):
            extra = self.lot_size * DEPTH_PROFILE[position % len(DEPTH_PROFILE)]
            ask_size = quote.ask_size if position == 0 else extra
            bid_size = quote.bid_size if position == 0 else extra
            found[(0, position)] = (quote.ask + self.tick_size * position, ask_size)
            bid = quote.bid - self.tick_size * position
            if bid > 0:
                found[(1, position)] = (bid, bid_size)
        return found

    async def tick(self, session: Session) -> None:
        levels = self.levels(session.backend.quote(self.symbol))
        for (side, position), (price, size) in levels.items():
            before = self._sent.get((side, position))
            if before == (price, size):
                continue
            operation = 0 if before is None else 1
            if self.smart:
                message = market.update_mkt_depth_l2(
                    self.req_id, position, "ISLAND", operation, side, price, size, True
                )
            else:
                message = market.update_mkt_depth(
                    self.req_id, position, operation, side, price, size
                )
            session.send(message)
        for side, position in set(self._sent) - set(levels):
            price, size = self._sent[(side, position)]
            session.send(market.update_mkt_depth(self.req_id, position, 2, side, price, size))
        self._sent = levels


def bar_of(quotes: list[Quote], what: str, epoch_date: str) -> IbBar | None:
    """One bar of `quotes` (seconds): TRADES from the last prices, MIDPOINT, BID or ASK."""
    if not quotes:
        return None

    def price(q: Quote) -> Decimal:
        if what == "BID":
            return q.bid
        if what == "ASK":
            return q.ask
        if what == "MIDPOINT":
            return (q.bid + q.ask) / 2
        return q.last

    prices = [price(q) for q in quotes]
    volume = sum((q.volume for q in quotes), Decimal(0)) if what == "TRADES" else Decimal(0)
    wap = (
        sum((q.last * q.volume for q in quotes), Decimal(0)) / volume
        if volume
        else sum(prices, Decimal(0)) / len(prices)
    )
    tick = Decimal("0.0001")
    return IbBar(
        date=epoch_date,
        open=prices[0],
        high=max(prices),
        low=min(prices),
        close=prices[-1],
        volume=volume,
        wap=wap.quantize(tick),
        count=len(quotes),
    )


@dataclass
class RealTimeBars:
    req_id: int
    symbol: str
    what: str  # TRADES, MIDPOINT, BID, ASK
    use_rth: bool
    _next: int = 0  # the start (epoch) of the next bar to send

    async def tick(self, session: Session) -> None:
        now = int(time.time())
        if not self._next:
            self._next = now - now % REAL_TIME_BAR_SECONDS
            return
        while self._next + REAL_TIME_BAR_SECONDS <= now:
            start = datetime.fromtimestamp(self._next, UTC)
            end = datetime.fromtimestamp(self._next + REAL_TIME_BAR_SECONDS, UTC)
            seconds = session.backend.seconds(self.symbol, start, end, REAL_TIME_BAR_SECONDS)
            if self.use_rth:
                calendar = session.backend.calendar
                seconds = [q for q in seconds if calendar.is_regular_hours(q.ts)]
            bar = bar_of(seconds, self.what, str(self._next))
            if bar is not None:  # IB sends no bar while the market is closed
                session.send(market.realtime_bar(self.req_id, self._next, bar))
            self._next += REAL_TIME_BAR_SECONDS


@dataclass
class BarUpdates:
    """keepUpToDate: the newest bar of the request's size, sent again as it changes."""

    req_id: int
    symbol: str
    interval: BarInterval
    to_ib_bar: Callable[[Bar], IbBar]
    _sent: IbBar | None = None
    _pace: _OncePerSecond = field(default_factory=_OncePerSecond)

    async def tick(self, session: Session) -> None:
        if not self._pace.due():
            return
        bars = await session.backend.bars(self.symbol, self.interval, limit=1, end=None)
        if not bars:
            return
        bar = self.to_ib_bar(bars[-1])
        if bar != self._sent:
            session.send(market.historical_data_update(self.req_id, bar))
            self._sent = bar


@dataclass
class Pnl:
    req_id: int
    _pace: _OncePerSecond = field(default_factory=_OncePerSecond)

    async def tick(self, session: Session) -> None:
        if not self._pace.due():
            return
        daily, unrealized, realized = session.backend.pnl()
        session.send(market.pnl(self.req_id, daily, unrealized, realized))


@dataclass
class PnlSingle:
    req_id: int
    symbol: str
    _pace: _OncePerSecond = field(default_factory=_OncePerSecond)

    async def tick(self, session: Session) -> None:
        if not self._pace.due():
            return
        figures = session.backend.pnl_single(self.symbol)
        session.send(market.pnl_single(self.req_id, *figures))


__all__ = [
    "BarUpdates",
    "Depth",
    "Pnl",
    "PnlSingle",
    "RealTimeBars",
    "TickByTick",
    "bar_of",
]
