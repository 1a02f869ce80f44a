"""OHLCV bars of the simulated market: 1-minute storage, synthetic history, aggregation.

The engine records every change of a symbol's last price or volume into the bar of the
current minute. Bars are kept in parallel `array('q')` columns (minute index since the
epoch, prices in ticks, volume in 1/10000 share) at 48 bytes a bar, so three days of
minutes for a dozen symbols stay around 2.5 MB. Longer intervals are aggregated on
request; days follow the calendar's local dates.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
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

    def record(self, minute: int, price: int, volume: int) -> None:
        """Add a trade at `price` (ticks) of `volume` units to the bar of `minute`."""
        if self._minute and minute <= self._minute[-1]:
            # A clock that went back (tests) still updates the newest bar: bars stay ordered.
            self._high[-1] = max(self._high[-1], price)
            self._low[-1] = min(self._low[-1], price)
            self._close[-1] = price
            self._volume[-1] += volume
            return
        self._minute.append(minute)
        for column in (self._open, self._high, self._low, self._close):
            column.append(price)
        self._volume.append(volume)
        if len(self._minute) > self._capacity + self._slack:
            drop = len(self._minute) - self._capacity
            for column in self._columns():
                del column[:drop]

    def prepend_history(
        self, end_minute: int, close: int, walk: SyntheticWalk, rng: random.Random
    ) -> None:
        """Fill the free capacity with synthetic minutes ending just before `end_minute`.

        The walk runs backward from `close` (ticks), so the newest synthetic bar closes at
        `close` and no generated bar depends on how many are generated.
        """
        count = self._capacity - len(self)
        if count <= 0:
            return
        minutes = array("q", range(end_minute - count, end_minute))
        history = (minutes, *walk.generate(count, close, rng))
        keep = self._first()
        for column, generated in zip(self._columns(), history, strict=True):
            generated.extend(column[keep:])
            column[:] = generated

    def aggregate(
        self, limit: int, end_minute: int, bucket_start: Callable[[int], int]
    ) -> list[tuple[int, int, int, int, int, int]]:
        """Return up to `limit` newest buckets of bars before `end_minute`, oldest first.

        Only minutes before `end_minute` count, so a bucket that `end_minute` cuts is
        partial, as the current bar of a live feed is. Each tuple is (start minute, open,
        high, low, close, volume).
        """
        first = self._first()
        index = bisect_left(self._minute, end_minute, lo=first) - 1
        buckets: list[tuple[int, int, int, int, int, int]] = []
        while index >= first and len(buckets) < limit:
            start = bucket_start(self._minute[index])
            close = self._close[index]
            high, low, volume = self._high[index], self._low[index], 0
            while index >= first and self._minute[index] >= start:
                high = max(high, self._high[index])
                low = min(low, self._low[index])
                volume += self._volume[index]
                index -= 1
            buckets.append((start, self._open[index + 1], high, low, close, volume))
        buckets.reverse()
        return buckets

    def _first(self) -> int:
        """Return the index of the oldest bar that counts (older ones await trimming)."""
        return max(0, len(self._minute) - self._capacity)

    def _columns(self) -> tuple[array[int], ...]:
        """Return the columns in (minute, open, high, low, close, volume) order."""
        return (self._minute, self._open, self._high, self._low, self._close, self._volume)


@dataclass(frozen=True, slots=True)
class SyntheticWalk:
    """How synthetic history moves: relative volatility per step and the lot traded."""

    volatility: float
    lot_units: int

    def generate(self, count: int, close: int, rng: random.Random) -> tuple[array[int], ...]:
        """Generate `count` bars ending at `close`: (open, high, low, close, volume), oldest first.

        The walk runs backward from `close`, so the newest bars come out the same however
        many are generated.
        """
        columns = tuple(array("q") for _ in range(5))
        opens, highs, lows, closes, volumes = columns
        for _ in range(count):
            # A synthetic minute moves like one engine step: plausible without being wild.
            sigma = max(1.0, close * self.volatility)
            # A bar opens where the minute before it closed; walking backward, that comes next.
            open_ = max(1, close + round(rng.gauss(0.0, sigma)))
            wick = sigma / 2
            opens.append(open_)
            highs.append(max(open_, close) + int(abs(rng.gauss(0.0, wick))))
            lows.append(max(1, min(open_, close) - int(abs(rng.gauss(0.0, wick)))))
            closes.append(close)
            volumes.append(rng.randint(1, 50) * self.lot_units)
            close = open_
        for column in columns:
            column.reverse()
        return columns


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
