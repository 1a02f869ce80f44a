"""OHLCV bars of the simulated market: 1-minute storage and aggregation.

The engine stores the market model's bar of each open minute (`market.py`), the current one
as it grows, with what orders here traded on top. Bars are kept in parallel `array('q')`
columns (minute index since the epoch, prices in ticks, volume in 1/10000 share) at 48
bytes a bar, so three days of minutes for a dozen symbols stay around 2.5 MB. Longer
intervals are aggregated on request; days follow the calendar's local dates.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from stocks_api.broker.protocol import Bar, BarInterval

VOLUME_SCALE = 10_000  # stored volume unit: 1/10000 share, the finest fractional quantity
_MINUTE_SECONDS = 60
_FIXED_MINUTES = {BarInterval.M1: 1, BarInterval.M5: 5, BarInterval.H1: 60}


def minute_of(at: datetime) -> int:
    """Return the UTC minute (minutes since the epoch) that contains `at`."""
    return int(at.timestamp() // _MINUTE_SECONDS)


def volume_units(qty: Decimal) -> int:
    """Convert a traded quantity to stored volume units."""
    return int(qty * VOLUME_SCALE)


class MinuteBars:
    """One symbol's 1-minute bars, oldest first, bounded to the newest `capacity` minutes."""

    __slots__ = ("_capacity", "_close", "_high", "_low", "_minute", "_open", "_slack", "_volume")

    def __init__(self, capacity: int) -> None:
        """Start an empty series that keeps at most `capacity` bars."""
        if capacity < 1:
            raise ValueError(f"bar capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        # Old bars are dropped in chunks, so trimming is a rare memmove, not one per minute.
        self._slack = max(64, capacity // 16)
        self._minute = array("q")
        self._open = array("q")
        self._high = array("q")
        self._low = array("q")
        self._close = array("q")
        self._volume = array("q")

    def __len__(self) -> int:
        """Return the number of bars kept."""
        return len(self._minute) - self._first()

    @property
    def first_minute(self) -> int | None:
        """The minute of the oldest bar kept, or None when there is none."""
        return self._minute[self._first()] if len(self) else None

    @property
    def last_minute(self) -> int | None:
        """The minute of the newest bar, or None when there is none."""
        return self._minute[-1] if len(self) else None

    def put(self, row: tuple[int, int, int, int, int, int]) -> None:
        """Store the bar (minute, open, high, low, close, volume) as the newest one: it
        replaces the bar of the same minute, and a minute older than the newest bar (a
        clock that went back, in tests) is ignored, so bars stay ordered."""
        minute = row[0]
        if self._minute and minute <= self._minute[-1]:
            if minute == self._minute[-1]:
                for column, value in zip(self._columns(), row, strict=True):
                    column[-1] = value
            return
        for column, value in zip(self._columns(), row, strict=True):
            column.append(value)
        if len(self._minute) > self._capacity + self._slack:
            drop = len(self._minute) - self._capacity
            for column in self._columns():
                del column[:drop]

    def prepend(self, rows: list[tuple[int, int, int, int, int, int]]) -> None:
        """Put older bars (oldest first, all before the oldest kept) in front, keeping at
        most the capacity (the newest)."""
        room = self._capacity - len(self)
        if room <= 0 or not rows:
            return
        rows = rows[-room:]
        keep = self._first()
        for index, column in enumerate(self._columns()):
            generated = array("q", (row[index] for row in rows))
            generated.extend(column[keep:])
            column[:] = generated

    def aggregate(
        self,
        limit: int,
        end_minute: int,
        bucket_start: Callable[[int], int],
        keep: Callable[[int], bool] | None = None,
    ) -> list[tuple[int, int, int, int, int, int]]:
        """Return up to `limit` newest buckets of bars before `end_minute`, oldest first.

        Only minutes before `end_minute` count, so a bucket that `end_minute` cuts is
        partial, as the current bar of a live feed is; with `keep`, only the minutes it
        accepts (daily bars: the regular session's). Each tuple is (start minute, open,
        high, low, close, volume).
        """
        first = self._first()
        index = bisect_left(self._minute, end_minute, lo=first) - 1
        buckets: list[tuple[int, int, int, int, int, int]] = []
        while index >= first and len(buckets) < limit:
            if keep is not None and not keep(self._minute[index]):
                index -= 1
                continue
            start = bucket_start(self._minute[index])
            close = self._close[index]
            high, low, volume = self._high[index], self._low[index], 0
            open_ = self._open[index]
            while index >= first and self._minute[index] >= start:
                if keep is None or keep(self._minute[index]):
                    high = max(high, self._high[index])
                    low = min(low, self._low[index])
                    volume += self._volume[index]
                    open_ = self._open[index]
                index -= 1
            buckets.append((start, open_, high, low, close, volume))
        buckets.reverse()
        return buckets

    def _first(self) -> int:
        """Return the index of the oldest bar that counts (older ones await trimming)."""
        return max(0, len(self._minute) - self._capacity)

    def _columns(self) -> tuple[array[int], ...]:
        """Return the columns in (minute, open, high, low, close, volume) order."""
        return (self._minute, self._open, self._high, self._low, self._close, self._volume)


def bucket_function(interval: BarInterval, zone: ZoneInfo) -> Callable[[int], int]:
    """Return a function mapping a minute to the start minute of its `interval` bucket.

    Minutes, 5 minutes and hours are cut in UTC; days at local midnight in `zone`.
    """
    width = _FIXED_MINUTES.get(interval)
    if width is not None:
        return lambda minute: minute - minute % width

    def local_midnight(minute: int) -> int:
        local = datetime.fromtimestamp(minute * _MINUTE_SECONDS, zone)
        midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
        return int(midnight.timestamp()) // _MINUTE_SECONDS

    return local_midnight


def to_bar(row: tuple[int, int, int, int, int, int], tick_size: Decimal) -> Bar:
    """Convert an aggregated row to a `Bar` with Decimal prices on the tick grid."""
    start, open_, high, low, close, volume = row
    return Bar(
        start=datetime.fromtimestamp(start * _MINUTE_SECONDS, UTC),
        open=tick_size * open_,
        high=tick_size * high,
        low=tick_size * low,
        close=tick_size * close,
        volume=Decimal(volume) / VOLUME_SCALE,
    )
