"""The simulated market's tape: each symbol's minute bars as the market showed them.

A minute's bar is the market model's (`market.py`) for that minute, moved by the book's
`shift` (a forced quote) and with what orders here traded in it on top (their prices widen
its range, their quantity adds to its volume). The current minute's bar grows as the clock
moves; a minute the clock skipped gets its whole bar; history before the first live bar is
back-filled from the same model as deep as a request needs, up to the kept minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from stocks_api.broker.protocol import Bar, BarInterval
from stocks_api.broker.sim.bars import VOLUME_SCALE, MinuteBars, bucket_function, minute_of, to_bar
from stocks_api.broker.sim.book import Book
from stocks_api.broker.sim.market import SymbolMarket
from stocks_api.core.calendar import SessionCalendar

_INTERVAL_MINUTES = {BarInterval.M1: 1, BarInterval.M5: 5, BarInterval.H1: 60, BarInterval.D1: 1440}
_Row = tuple[int, int, int, int, int, int]


class Tape:
    """The minute bars of every symbol; see the module docstring."""

    def __init__(
        self,
        markets: Mapping[str, SymbolMarket],
        books: Mapping[str, Book],
        *,
        calendar: SessionCalendar,
        clock: Callable[[], datetime],
        history_minutes: int,
    ) -> None:
        self._markets = markets
        self._books = books
        self._calendar = calendar
        self._clock = clock
        self._history_minutes = history_minutes
        self._bars = {name: MinuteBars(history_minutes) for name in markets}
        # What orders here traded in the current minute, shown on top of the market's bar:
        # symbol -> (minute, high, low, volume units).
        self._own: dict[str, tuple[int, int, int, int]] = {}
        # Symbols whose history may reach further back: it is back-filled as deep as the
        # bars asked for need (a first chart costs its own bars, not the whole history).
        self._history_pending = set(markets)

    def bars(
        self, symbol: str, interval: BarInterval, limit: int, end: datetime | None
    ) -> list[Bar]:
        """Up to `limit` newest bars of a traded `symbol` before `end` (None: now, the
        current minute's bar included), oldest first; daily bars are regular sessions."""
        if symbol in self._history_pending:
            # Minutes the answer can reach back; with an `end`, all that is kept.
            width = _INTERVAL_MINUTES[interval]
            deep = self._history_minutes if end is not None else (limit + 1) * width
            self._backfill(symbol, min(deep, self._history_minutes))
        # The bar of the current minute shows the market up to now, ticked or not.
        self.record(symbol, self._clock())
        if end is None:
            # Now: the bar of the current minute counts even in its very first microsecond.
            end_minute = minute_of(self._clock()) + 1
        else:
            if end.tzinfo is None:  # a naive time is taken as UTC, like everywhere in the API
                end = end.replace(tzinfo=UTC)
            # The first minute that does not start before `end`.
            end_minute = minute_of(end) + (1 if end.second or end.microsecond else 0)
        bucket = bucket_function(interval, self._calendar.zone)
        # A daily bar is the day's regular session, as exchanges' daily bars are.
        keep = self._regular_minute if interval is BarInterval.D1 else None
        rows = self._bars[symbol].aggregate(limit, end_minute, bucket, keep)
        tick_size = self._markets[symbol].spec.tick_size
        return [to_bar(row, tick_size) for row in rows]

    def first_bar_time(self, symbol: str) -> datetime:
        """When the oldest bar that can be asked for starts (the whole history back-filled)."""
        self._backfill(symbol, self._history_minutes)
        first = self._bars[symbol].first_minute
        return self._clock() if first is None else datetime.fromtimestamp(first * 60, UTC)

    def record(self, symbol: str, now: datetime) -> None:
        """Make the bar of the current minute what the market and orders here traded in it,
        after the full bars of any open minutes the clock skipped since the last one."""
        series = self._bars[symbol]
        market = self._markets[symbol]
        minute = minute_of(now)
        newest = series.last_minute
        if newest is not None and newest < minute:
            # The newest bar's minute is over: it becomes the whole minute's bar.
            self._put(symbol, newest, market.bar(newest))
        if newest is not None and newest < minute - 1:
            skipped = market.open_minutes_before(minute, min(minute - newest - 1, 1440), days=2)
            for past in skipped:
                if past > newest:
                    self._put(symbol, past, market.bar(past))
        seconds = int(now.timestamp()) % 60 + 1
        self._put(symbol, minute, market.bar(minute, seconds))

    def note_own_trade(self, symbol: str, price: int, volume: int) -> None:
        """Count a trade of an order here (or a forced last price) into the current bar."""
        now = self._clock()
        minute = minute_of(now)
        own = self._own.get(symbol)
        if own is None or own[0] != minute:
            own = (minute, price, price, 0)
        _, high, low, total = own
        self._own[symbol] = (minute, max(high, price), min(low, price), total + volume)
        self.record(symbol, now)

    def _regular_minute(self, minute: int) -> bool:
        """Whether UTC `minute` lies in the regular session."""
        return self._calendar.is_regular_hours(datetime.fromtimestamp(minute * 60, UTC))

    def _backfill(self, symbol: str, depth: int) -> None:
        """Give `symbol` `depth` bars of past: the model's bars of the open minutes before
        its oldest bar (the same bars a restart shows), at most what the history keeps."""
        series = self._bars[symbol]
        wanted = depth - len(series)
        if wanted <= 0:
            return
        end = series.first_minute
        if end is None:
            end = minute_of(self._clock())
        market = self._markets[symbol]
        # Calendar days to search: the kept minutes, plus room for a weekend or holidays.
        days = self._history_minutes // 1440 + 5
        minutes = market.open_minutes_before(end, wanted, days=days)
        if len(minutes) < wanted or depth >= self._history_minutes:
            self._history_pending.discard(symbol)  # nothing further back to fetch
        rows = []
        for minute in minutes:
            bar = market.bar(minute)
            assert bar is not None  # open_minutes_before returns open minutes
            open_, high, low, close, volume = bar
            rows.append((minute, open_, high, low, close, volume * VOLUME_SCALE))
        series.prepend(rows)

    def _put(self, symbol: str, minute: int, bar: tuple[int, int, int, int, int] | None) -> None:
        """Store the market's `bar` of `minute` (moved by the book's shift), with what
        orders here traded in it on top."""
        own = self._own.get(symbol)
        mine = own if own is not None and own[0] == minute else None
        if bar is None and mine is None:
            return  # the market is closed and nothing traded here
        row: _Row
        if bar is None:
            assert mine is not None
            _, high, low, volume = mine
            row = (minute, high, high, low, low, volume)
        else:
            shift = self._books[symbol].shift
            open_, high, low, close, volume = bar
            row = (
                minute,
                max(1, open_ + shift),
                max(1, high + shift),
                max(1, low + shift),
                max(1, close + shift),
                volume * VOLUME_SCALE,
            )
            if mine is not None:
                _, own_high, own_low, own_volume = mine
                row = (
                    minute,
                    row[1],
                    max(row[2], own_high),
                    min(row[3], own_low),
                    row[4],
                    row[5] + own_volume,
                )
        self._bars[symbol].put(row)
