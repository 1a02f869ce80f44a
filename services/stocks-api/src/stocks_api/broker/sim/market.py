"""The simulated market's price and volume: a function of (seed, symbol, time), not of ticks.

Every price the market shows is computed from random draws keyed by the seed, the symbol
and the time slot they belong to, never from a generator whose draws are used up tick by
tick. So the path does not depend on how often or when the engine ticked: the history
back-filled at start, the live quotes and the bars after a restart are the same path, and
a fill's price lies inside its minute's bar before and after a restart.

The path is built in three levels, each pinned to the one above:

- **Days.** The log price at the end of each trading day's extended session follows an
  AR(1) process over trading days (`PERSISTENCE` per day) around the symbol's reference
  price, computed as a finite sum of daily shocks keyed by date (`DAY_MEMORY` days), so
  prices wander like a stock's but stay near where the README says they trade.
- **Minutes.** Within a day, the minutes of the extended session (pre-market, regular,
  after-hours) walk from the previous day's end to this day's end as a Brownian bridge.
  A day's variance is split between the overnight gap (at the first minute after a closed
  period), the pre-market, the regular session (U-shaped: busiest at the open, then the
  close, quiet at midday) and the after-hours; volume follows the same shape.
- **Seconds.** Within a minute, one-second slots walk from the minute's open to its close;
  each slot has its spread, displayed sizes and the side the last trade printed on.

A minute's bar is the minute's slots: open and close are the first and last trade, high
and low the highest ask and the lowest bid shown, so every price an order could fill at
lies inside it. No bar exists where the calendar's extended session is closed (nights,
weekends, holidays). The documented statistics of each symbol are in `symbols.py`
(`PROFILES`); `bench/market.py` prints what the model produces.

Floats are used only for the random path itself; prices leave as integer tick counts.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from stocks_api.broker.sim.bars import minute_of
from stocks_api.broker.sim.symbols import SymbolSpec
from stocks_api.core.calendar import SessionCalendar

SLOTS_PER_MINUTE = 60  # one price per second
TRADING_DAYS_PER_YEAR = 252
PERSISTENCE = 0.98  # AR(1) coefficient of the daily level: a half-life of about 34 days
DAY_MEMORY = 250  # daily shocks summed into a level (PERSISTENCE**250 < 0.7 %)
# Shares of a day's variance, and of its volume, by part of the day.
GAP_VARIANCE = 0.15  # the overnight (or weekend) gap, at the first minute after a closure
PRE_VARIANCE, POST_VARIANCE = 0.10, 0.10
PRE_VOLUME, POST_VOLUME = 0.04, 0.04
VOLUME_DISPERSION = 0.35  # lognormal sigma of one minute's volume around its expectation
_MINUTE = timedelta(minutes=1)
_SECONDS = 60
_CACHED_DAYS = 64
_CACHED_MINUTES = 8


def _u_shape(u: float, open_weight: float, close_weight: float) -> float:
    """Intraday seasonality at `u` (0 at the open, 1 at the close): high at both ends."""
    return 1.0 + open_weight * math.exp(-u / 0.06) + close_weight * math.exp(-(1.0 - u) / 0.06)


@dataclass(frozen=True, slots=True)
class Slot:
    """The market of one second: mid, touch and last in ticks, sizes in lots."""

    mid: int
    bid: int
    ask: int
    last: int
    bid_lots: int
    ask_lots: int


class _Slots(NamedTuple):
    """A minute's slots as columns (ticks; lots), one entry per second."""

    mid: list[int]
    bid: list[int]
    ask: list[int]
    last: list[int]
    bid_lots: list[int]
    ask_lots: list[int]

    def slot(self, second: int) -> Slot:
        return Slot(
            self.mid[second],
            self.bid[second],
            self.ask[second],
            self.last[second],
            self.bid_lots[second],
            self.ask_lots[second],
        )


@dataclass(frozen=True, slots=True)
class MarketState:
    """What the market shows at an instant: the slot in force (while closed, the last one
    before) and the day's volume so far (whole shares)."""

    slot: Slot
    day_volume: int


@dataclass(slots=True)
class _Day:
    """One trading day's minute path: extended window, log closes, volumes (shares)."""

    first_minute: int  # UTC minute index of the extended session's first minute
    closes: list[float]  # log price (relative to the reference) at the end of each minute
    start: float  # log price before the first minute (the previous day's end)
    sigmas: list[float]  # standard deviation of each minute's log return
    volumes: list[int]
    cumulative: list[int]  # volume before each minute
    regular: tuple[int, int]  # minute offsets [open, close) of the regular session


class SymbolMarket:
    """The market of one symbol; see the module docstring."""

    def __init__(
        self,
        spec: SymbolSpec,
        seed: int,
        calendar: SessionCalendar,
        *,
        annual_volatility: float,
        daily_volume: int,
    ) -> None:
        self.spec = spec
        self._key = f"{seed}:{spec.symbol}"
        self._calendar = calendar
        self._reference = float(spec.start_price / spec.tick_size)  # in ticks
        self._day_sigma = annual_volatility / math.sqrt(TRADING_DAYS_PER_YEAR)
        self._daily_volume = daily_volume
        self._shocks: dict[date, float] = {}
        self._levels: dict[date, float] = {}
        self._days: OrderedDict[date, _Day | None] = OrderedDict()
        self._minutes: OrderedDict[int, _Slots | None] = OrderedDict()

    # -- what the engine asks ------------------------------------------------------------

    def state_at(self, at: datetime) -> MarketState:
        """The market at `at`; when it is closed, the last second it was open."""
        minute = minute_of(at)
        slots = self.slots(minute)
        if slots is not None:
            second = min(int(at.timestamp() - minute * _SECONDS), _SECONDS - 1)
            return MarketState(slots.slot(second), self._volume_before(minute, second + 1))
        last = self.last_open_minute(minute)
        slots = self.slots(last)
        assert slots is not None  # last_open_minute returns an open minute
        return MarketState(slots.slot(_SECONDS - 1), self._volume_before(last, _SECONDS))

    def bar(self, minute: int, seconds: int = _SECONDS) -> tuple[int, int, int, int, int] | None:
        """(open, high, low, close, volume in shares) of `minute`'s first `seconds` seconds;
        None when the market is closed then."""
        found = self._day_of(minute)
        if found is None:
            return None
        day, index = found
        slots = self.slots(minute)
        assert slots is not None
        shown = max(1, min(seconds, _SECONDS))
        volume = day.volumes[index] * shown // _SECONDS
        high = max(slots.ask[:shown])
        low = min(slots.bid[:shown])
        return slots.last[0], high, low, slots.last[shown - 1], volume

    def last_open_minute(self, minute: int) -> int:
        """The latest open minute before `minute` (for a closed market's frozen quote)."""
        day = self._local_date(minute)
        for _ in range(400):
            path = self._day(day)
            if path is not None:
                last = path.first_minute + len(path.closes) - 1
                if last < minute:
                    return last
                if path.first_minute < minute:
                    return minute - 1
            day -= timedelta(days=1)
        raise ValueError("no trading day within 400 days")  # pragma: no cover - validated

    def open_minutes_before(self, minute: int, count: int, *, days: int) -> list[int]:
        """Up to `count` newest open minutes before `minute`, within `days` calendar days,
        oldest first."""
        found: list[int] = []
        day = self._local_date(minute)
        for _ in range(days + 1):
            path = self._day(day)
            if path is not None:
                end = min(minute, path.first_minute + len(path.closes))
                for m in range(end - 1, path.first_minute - 1, -1):
                    found.append(m)
                    if len(found) >= count:
                        found.reverse()
                        return found
            day -= timedelta(days=1)
        found.reverse()
        return found

    # -- seconds -------------------------------------------------------------------------

    def slots(self, minute: int) -> _Slots | None:
        """The 60 one-second slots of `minute`; None when the market is closed then."""
        if minute in self._minutes:
            self._minutes.move_to_end(minute)
            return self._minutes[minute]
        found = self._day_of(minute)
        slots = None if found is None else self._make_slots(minute, *found)
        self._minutes[minute] = slots
        if len(self._minutes) > _CACHED_MINUTES:
            self._minutes.popitem(last=False)
        return slots

    def _make_slots(self, minute: int, day: _Day, index: int) -> _Slots:
        rng = random.Random(f"{self._key}:{minute}")  # noqa: S311 - simulation only
        draw = rng.random
        start = day.closes[index - 1] if index else day.start
        end = day.closes[index]
        step = (end - start) / _SECONDS
        # A bridge from the minute's open to its close: uniform steps (variance-matched to
        # the minute's own volatility), pinned so the last slot lands on the close.
        scale = day.sigmas[index] / math.sqrt(_SECONDS) * 3.4641016  # sqrt(12): variance 1
        walk: list[float] = []
        total = 0.0
        for _ in range(_SECONDS):
            total += (draw() - 0.5) * scale
            walk.append(total)
        regular = day.regular[0] <= index < day.regular[1]
        # Outside the regular session the book is thin: wider spreads, smaller sizes.
        low_spread, spreads = (1, 3) if regular else (2, 5)
        most_lots = 10 if regular else 3
        reference, exp = self._reference, math.exp
        drift = step - walk[-1] / _SECONDS
        slots = _Slots([], [], [], [], [], [])
        mids, bids, asks, lasts, bid_lots, ask_lots = slots
        for k in range(_SECONDS):
            mid = round(reference * exp(start + drift * (k + 1) + walk[k]))
            spread = low_spread + int(draw() * spreads)
            bid = mid - spread // 2
            if bid < 1:  # a penny stock at its floor: the touch stays on the grid
                mid, bid = max(mid, 1), 1
            mids.append(mid)
            bids.append(bid)
            asks.append(bid + spread)
            lasts.append(bid + spread if draw() < 0.5 else bid)
            bid_lots.append(1 + int(draw() * most_lots))
            ask_lots.append(1 + int(draw() * most_lots))
        return slots

    # -- minutes -------------------------------------------------------------------------

    def _local_date(self, minute: int) -> date:
        return datetime.fromtimestamp(minute * _SECONDS, UTC).astimezone(self._calendar.zone).date()

    def _day_of(self, minute: int) -> tuple[_Day, int] | None:
        path = self._day(self._local_date(minute))
        if path is None:
            return None
        index = minute - path.first_minute
        if 0 <= index < len(path.closes):
            return path, index
        return None

    def _volume_before(self, minute: int, seconds: int) -> int:
        found = self._day_of(minute)
        if found is None:
            return 0
        day, index = found
        return day.cumulative[index] + day.volumes[index] * seconds // _SECONDS

    def _day(self, day: date) -> _Day | None:
        if day in self._days:
            self._days.move_to_end(day)
            return self._days[day]
        path = self._make_day(day)
        self._days[day] = path
        if len(self._days) > _CACHED_DAYS:
            self._days.popitem(last=False)
        return path

    def _make_day(self, day: date) -> _Day | None:
        hours = self._calendar.extended_hours_of(day)
        if hours is None:
            return None
        ext_open, ext_close = hours
        regular = self._calendar.regular_hours_of(day) or hours
        first = minute_of(ext_open)
        count = max(1, minute_of(ext_close) - first)
        reg_open = min(max(minute_of(regular[0]) - first, 0), count)
        reg_close = min(max(minute_of(regular[1]) - first, reg_open), count)
        after_closure = not self._calendar.is_extended_hours(ext_open - _MINUTE)
        variance, volume = self._day_shape(count, reg_open, reg_close, after_closure)
        rng = random.Random(f"{self._key}:{day.isoformat()}")  # noqa: S311 - simulation only
        previous = self._previous_trading_day(day)
        start = self._level(previous) if previous is not None else 0.0
        target = self._level(day)
        day_variance = self._day_sigma**2
        sigmas = [math.sqrt(day_variance * w) for w in variance]
        steps = [sigma * rng.gauss(0.0, 1.0) for sigma in sigmas]
        # Pin the walk to the day's level: a Brownian bridge over the variance weights.
        miss = target - start - sum(steps)
        closes: list[float] = []
        level = start
        for step, weight in zip(steps, variance, strict=True):
            level += step + miss * weight
            closes.append(level)
        volumes: list[int] = []
        cumulative: list[int] = []
        total = 0
        # exp(N(-s^2/2, s)) has mean 1: the expected volume stays the documented one.
        drift = -(VOLUME_DISPERSION**2) / 2
        for share in volume:
            expected = self._daily_volume * share
            shares = int(expected * math.exp(rng.gauss(drift, VOLUME_DISPERSION)))
            cumulative.append(total)
            volumes.append(shares)
            total += shares
        return _Day(first, closes, start, sigmas, volumes, cumulative, (reg_open, reg_close))

    @staticmethod
    def _day_shape(
        count: int, reg_open: int, reg_close: int, after_closure: bool
    ) -> tuple[list[float], list[float]]:
        """Variance and volume weights of each minute of a day (each list sums to 1)."""
        regular = max(reg_close - reg_open, 1)
        pre, post = reg_open, count - reg_close
        gap = GAP_VARIANCE if after_closure else 0.0
        pre_var = PRE_VARIANCE if pre else 0.0
        post_var = POST_VARIANCE if post else 0.0
        reg_var = 1.0 - gap - pre_var - post_var
        pre_vol = PRE_VOLUME if pre else 0.0
        post_vol = POST_VOLUME if post else 0.0
        reg_vol = 1.0 - pre_vol - post_vol
        var_shape = [_u_shape((i + 0.5) / regular, 1.5, 0.8) for i in range(regular)]
        vol_shape = [_u_shape((i + 0.5) / regular, 2.5, 1.8) for i in range(regular)]
        var_sum, vol_sum = sum(var_shape), sum(vol_shape)
        variance: list[float] = []
        volume: list[float] = []
        for i in range(count):
            if i < reg_open:
                variance.append(pre_var / pre)
                volume.append(pre_vol / pre)
            elif i < reg_close:
                variance.append(reg_var * var_shape[i - reg_open] / var_sum)
                volume.append(reg_vol * vol_shape[i - reg_open] / vol_sum)
            else:
                variance.append(post_var / post)
                volume.append(post_vol / post)
        variance[0] += gap
        return variance, volume

    # -- days ----------------------------------------------------------------------------

    def _previous_trading_day(self, day: date) -> date | None:
        for back in range(1, 15):
            candidate = day - timedelta(days=back)
            if self._calendar.extended_hours_of(candidate) is not None:
                return candidate
        return None

    def _level(self, day: date) -> float:
        """The log price (relative to the reference) at the end of trading day `day`."""
        if day in self._levels:
            return self._levels[day]
        level = 0.0
        weight = 1.0
        current: date | None = day
        for _ in range(DAY_MEMORY):
            if current is None:
                break
            level += weight * self._day_sigma * self._shock(current)
            weight *= PERSISTENCE
            current = self._previous_trading_day(current)
        self._levels[day] = level
        return level

    def _shock(self, day: date) -> float:
        shock = self._shocks.get(day)
        if shock is None:
            rng = random.Random(f"{self._key}:level:{day.isoformat()}")  # noqa: S311
            shock = rng.gauss(0.0, 1.0)
            self._shocks[day] = shock
        return shock
