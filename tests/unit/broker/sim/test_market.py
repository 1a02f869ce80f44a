"""The simulated market's model: calibrated, session-aware, and a function of time."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import UTC, date, datetime, timedelta

import pytest

from stocks_api.broker.protocol import Bar, BarInterval
from stocks_api.broker.sim.bars import minute_of
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.broker.sim.market import SymbolMarket
from stocks_api.broker.sim.symbols import parse_symbols
from stocks_api.core.calendar import SessionCalendar, build_calendar
from tests.unit.broker.sim.support import FakeClock

M1, D1 = BarInterval.M1, BarInterval.D1
TOLERANCE = 1.5  # bench/market.py's: live statistics within this factor of history's


def nyse() -> SessionCalendar:
    return build_calendar(
        zone="America/New_York",
        open_at="09:30",
        close_at="16:00",
        weekdays="mon-fri",
        exchange="nyse",
    )


def engine(clock: FakeClock, seed: int = 3, symbols: str = "AAPL,TSLA,SPY") -> MatchingEngine:
    return MatchingEngine(
        symbols=parse_symbols(symbols),
        seed=seed,
        on_event=lambda _: None,
        clock=clock,
        calendar=nyse(),
        bar_history_minutes=3 * 1440,
    )


def log_returns(bars: list[Bar]) -> list[float]:
    return [math.log(b.close / a.close) for a, b in itertools.pairwise(bars)]


@pytest.mark.parametrize("seed", [3, 11])
def test_live_bars_move_and_trade_like_the_history_before_them(seed: int) -> None:
    # 30 live minutes against the 30 back-filled minutes before them, at four midday
    # starts (where the intraday shape is flat), pooled per symbol.
    returns: dict[str, tuple[list[float], list[float]]] = {}
    volumes: dict[str, tuple[list[float], list[float]]] = {}
    for day in (23, 24, 25, 27):
        start = datetime(2026, 11, day, 17, 15, tzinfo=UTC)  # 12:15 in New York
        clock = FakeClock(start)
        market = engine(clock, seed)
        history = {s: market.bars(s, M1, 31) for s in market.symbols()}
        for _ in range(30 * 60 // 2):  # a tick every 2 s
            clock.advance(seconds=2)
            market.tick()
        for symbol in market.symbols():
            live = [b for b in market.bars(symbol, M1, 40) if b.start >= start][:30]
            past = [b for b in history[symbol] if b.start < start][-30:]
            assert len(live) == len(past) == 30
            live_r, past_r = returns.setdefault(symbol, ([], []))
            live_r.extend(log_returns(live))
            past_r.extend(log_returns(past))
            live_v, past_v = volumes.setdefault(symbol, ([], []))
            live_v.extend(float(b.volume) for b in live)
            past_v.extend(float(b.volume) for b in past)

    for symbol, (live_r, past_r) in returns.items():
        sd_ratio = statistics.stdev(live_r) / statistics.stdev(past_r)
        live_v, past_v = volumes[symbol]
        volume_ratio = statistics.fmean(live_v) / statistics.fmean(past_v)
        assert 1 / TOLERANCE <= sd_ratio <= TOLERANCE, (symbol, sd_ratio)
        assert 1 / TOLERANCE <= volume_ratio <= TOLERANCE, (symbol, volume_ratio)


def test_volatility_and_volume_follow_each_symbols_profile() -> None:
    calendar = nyse()
    for spec in parse_symbols("SPY,AAPL,TSLA"):
        vol = float(spec.profile.annual_volatility)
        market = SymbolMarket(
            spec, 5, calendar, annual_volatility=vol, daily_volume=spec.profile.daily_volume
        )
        closes: list[int] = []
        day = date(2026, 6, 1)
        while len(closes) < 120:
            hours = calendar.extended_hours_of(day)
            if hours is not None:
                last = minute_of(hours[1]) - 1
                bar = market.bar(last)
                assert bar is not None
                closes.append(bar[3])
            day += timedelta(days=1)
        realised = statistics.stdev(
            math.log(b / a) for a, b in itertools.pairwise(closes)
        ) * math.sqrt(252)
        assert vol / TOLERANCE <= realised <= vol * TOLERANCE, (spec.symbol, realised)
    # Busier at the open than at midday, and thin before the open.
    aapl = parse_symbols("AAPL")[0]
    market = SymbolMarket(aapl, 5, calendar, annual_volatility=0.25, daily_volume=55_000_000)
    opening = minute_of(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))  # 09:30 New York

    def volume(first_minute: int) -> int:
        bars = [market.bar(first_minute + n) for n in range(10)]
        return sum(bar[4] for bar in bars if bar is not None)

    first, midday, pre = volume(opening), volume(opening + 180), volume(opening - 60)
    assert first > 2 * midday > 4 * pre


def test_no_bars_on_weekends_holidays_or_at_night_and_early_closes_are_kept() -> None:
    clock = FakeClock(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))  # Monday 10:00 in New York
    market = engine(clock, symbols="AAPL")
    minutes = market.bars("AAPL", M1, 3 * 1440)
    local_days = {b.start.astimezone(nyse().zone).date() for b in minutes}

    assert date(2026, 11, 26) not in local_days  # Thanksgiving
    assert not {date(2026, 11, 28), date(2026, 11, 29)} & local_days  # the weekend
    friday = [b for b in minutes if b.start.astimezone(nyse().zone).date() == date(2026, 11, 27)]
    # The day after Thanksgiving: 04:00 to 17:00 (the regular session ends at 13:00).
    assert friday[0].start.astimezone(nyse().zone).hour == 4
    assert friday[-1].start.astimezone(nyse().zone).time().isoformat() == "16:59:00"
    daily = market.bars("AAPL", D1, 5)
    assert [d.start.astimezone(nyse().zone).date() for d in daily][-3:] == [
        date(2026, 11, 25),
        date(2026, 11, 27),
        date(2026, 11, 30),
    ]


def test_the_path_is_a_function_of_time_not_of_ticks_and_seeds_differ() -> None:
    start = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    often, rarely = FakeClock(start), FakeClock(start)
    busy, idle = engine(often), engine(rarely)
    for n in range(600):
        often.advance(seconds=1)
        busy.tick()
        if n % 37 == 0:
            rarely.set(often.now)
            idle.tick()
    rarely.set(often.now)
    idle.tick()

    assert busy.quote("AAPL") == idle.quote("AAPL")
    assert busy.bars("AAPL", M1, 300) == idle.bars("AAPL", M1, 300)
    other = engine(FakeClock(often.now), seed=4)
    assert other.bars("AAPL", M1, 300) != busy.bars("AAPL", M1, 300)


def test_prices_stay_near_the_reference_over_years() -> None:
    (spec,) = parse_symbols("AAPL")
    market = SymbolMarket(spec, 9, nyse(), annual_volatility=0.25, daily_volume=1_000_000)
    for year in range(2020, 2031):
        state = market.state_at(datetime(year, 6, 10, 15, 0, tzinfo=UTC))
        price = state.slot.last * float(spec.tick_size)
        assert 0.5 * 190 < price < 1.6 * 190, (year, price)
