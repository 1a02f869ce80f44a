"""OHLCV bars of the simulated market: live minutes, back-filled history, aggregation."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stocks_api.broker.protocol import Bar, BarInterval, BrokerRejectedError, Quote, Side
from stocks_api.broker.sim.bars import MinuteBars
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.broker.sim.symbols import parse_symbols
from tests.unit.broker.sim.support import (
    T0,
    D,
    FakeClock,
    execs,
    make_engine,
    nyse,
    req,
    set_book,
)

M1, M5, H1, D1 = BarInterval.M1, BarInterval.M5, BarInterval.H1, BarInterval.D1
NEW_YORK = ZoneInfo("America/New_York")


def at(hour: int, minute: int, second: int = 0, day: int = 4) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC)


def run_market(engine: MatchingEngine, clock: FakeClock, ticks: int, seconds: float) -> None:
    for _ in range(ticks):
        clock.advance(seconds=seconds)
        engine.tick()


def aggregate(bars: list[Bar], key: Callable[[datetime], datetime]) -> list[Bar]:
    """Aggregate 1-minute bars by hand, the slow obvious way."""
    groups: dict[datetime, list[Bar]] = {}
    for bar in bars:
        groups.setdefault(key(bar.start), []).append(bar)
    return [
        Bar(
            start=start,
            open=group[0].open,
            high=max(b.high for b in group),
            low=min(b.low for b in group),
            close=group[-1].close,
            volume=sum((b.volume for b in group), D(0)),
        )
        for start, group in groups.items()
    ]


# -- live bars -------------------------------------------------------------------------------


def test_a_fill_lies_inside_its_minutes_bar_and_adds_its_volume() -> None:
    clock = FakeClock(at(15, 30, 5))
    engine, events = make_engine(clock=clock, bar_history_minutes=10)
    twin, _ = make_engine(clock=clock, bar_history_minutes=10)  # the same market, no orders
    for market in (engine, twin):
        market.tick()

    engine.submit(req(qty="100"))  # buys at the ask
    clock.set(at(15, 31, 30))
    for market in (engine, twin):
        market.tick()
    engine.submit(req(side=Side.SELL, qty="50", coid="s"))  # sells at the bid

    bought, sold = (e.price for e in execs(events))
    mine = engine.bars("AAPL", M1, 2)
    market_only = twin.bars("AAPL", M1, 2)
    assert [b.start for b in mine] == [at(15, 30), at(15, 31)]
    assert mine[0].low <= bought <= mine[0].high
    assert mine[1].low <= sold <= mine[1].high
    assert [m.volume - t.volume for m, t in zip(mine, market_only, strict=True)] == [100, 50]


def test_ticks_show_the_market_and_its_bar_holds_every_price_shown() -> None:
    clock = FakeClock(at(15, 30, 0))
    engine, _ = make_engine(clock=clock)
    quotes = []

    for _ in range(29):
        clock.advance(seconds=2)
        engine.tick()
        quotes.append(engine.quote("AAPL"))

    (bar,) = engine.bars("AAPL", M1, 1)
    assert bar.start == at(15, 30)
    assert bar.close == quotes[-1].last
    assert bar.low <= min(q.bid for q in quotes)
    assert bar.high >= max(q.ask for q in quotes)
    assert len({q.last for q in quotes}) > 3  # it moves within the minute
    assert bar.volume > 0


def test_a_closed_market_has_no_bars_and_a_still_quote() -> None:
    saturday = FakeClock(datetime(2024, 3, 9, 17, 0, tzinfo=UTC))
    engine, _ = make_engine(clock=saturday, calendar=nyse(), bar_history_minutes=3 * 1440)
    before = engine.quote("AAPL")
    for _ in range(10):
        saturday.advance(seconds=30)
        engine.tick()

    bars = engine.bars("AAPL", M1, 3 * 1440)
    assert bars
    assert all(b.start.astimezone(NEW_YORK).weekday() < 5 for b in bars)
    friday_close = datetime(2024, 3, 8, 20, 0, tzinfo=NEW_YORK)  # after-hours end at 20:00
    assert bars[-1].start == friday_close.astimezone(UTC) - timedelta(minutes=1)
    assert engine.quote("AAPL").last == before.last == bars[-1].close
    for bar in bars:
        local = bar.start.astimezone(NEW_YORK)
        assert 4 <= local.hour < 20  # extended hours only: nothing at night


def test_fractional_fills_count_exactly_in_the_volume() -> None:
    (spec,) = parse_symbols("SPY")
    engine, _ = make_engine(symbols=[replace(spec, fractional=True)])
    twin, _ = make_engine(symbols=[replace(spec, fractional=True)])
    set_book(engine, symbol="SPY", last="100.01")
    set_book(twin, symbol="SPY", last="100.01")

    engine.submit(req(symbol="SPY", qty="0.0001"))
    engine.submit(req(symbol="SPY", qty="2.5", coid="b"))

    mine, market_only = engine.bars("SPY", M1, 1)[0], twin.bars("SPY", M1, 1)[0]
    assert mine.volume - market_only.volume == D("2.5001")


# -- history ---------------------------------------------------------------------------------


def test_history_fills_the_capacity_with_the_minutes_before_now() -> None:
    engine, _ = make_engine(bar_history_minutes=90)

    bars = engine.bars("AAPL", M1, 1000)

    assert len(bars) == 90  # the current minute's bar so far is the newest
    assert [b.start for b in bars] == [T0 - timedelta(minutes=89 - n) for n in range(90)]
    for older, newer in itertools.pairwise(bars):
        # One continuous path: a bar opens within a few ticks of where the last one closed.
        assert abs(newer.open - older.close) <= D("0.25")


def test_history_is_the_same_path_the_market_showed_live() -> None:
    clock = FakeClock(at(15, 0, 0))
    live, _ = make_engine(clock=clock, bar_history_minutes=120)
    for _ in range(40 * 60 // 4):  # 40 minutes ticking every 4 seconds
        clock.advance(seconds=4)
        live.tick()
    clock.set(at(15, 40, 0))
    restarted, _ = make_engine(clock=clock, bar_history_minutes=120)  # a restart, later

    shown = live.bars("AAPL", M1, 120)
    again = restarted.bars("AAPL", M1, 120)
    assert len(shown) == len(again) == 120
    assert shown[-1].start == at(15, 40)
    assert shown == again  # history, the 40 live minutes and the current one alike


def test_a_fill_lies_inside_its_bar_after_a_restart() -> None:
    clock = FakeClock(at(15, 10, 0))
    engine, events = make_engine(clock=clock, bar_history_minutes=60)
    for n in range(20):
        clock.advance(seconds=3)
        engine.tick()
        engine.submit(req(qty="100", coid=f"b{n}"))
    restarted, _ = make_engine(clock=clock, bar_history_minutes=60)

    bars = {b.start: b for b in restarted.bars("AAPL", M1, 60)}
    for fill in execs(events):
        bar = bars[fill.ts.replace(second=0, microsecond=0)]
        assert bar.low <= fill.price <= bar.high


def test_history_ends_just_before_the_first_live_bar() -> None:
    clock = FakeClock(at(15, 30, 20))
    engine, _ = make_engine(clock=clock, bar_history_minutes=30)
    clock.set(at(15, 42, 10))
    engine.tick()
    clock.set(at(15, 43, 10))
    engine.tick()

    bars = engine.bars("AAPL", M1, 1000)

    assert len(bars) == 30
    starts = [b.start for b in bars]
    assert starts == [at(15, 43) - timedelta(minutes=29 - n) for n in range(30)]


def test_history_is_bounded_to_the_configured_minutes() -> None:
    clock = FakeClock(at(15, 30))
    engine, _ = make_engine(clock=clock, bar_history_minutes=60)
    engine.bars("AAPL", M1, 1)  # history first, then live minutes push it out

    run_market(engine, clock, ticks=500, seconds=60)

    bars = engine.bars("AAPL", M1, 1000)
    assert len(bars) == 60
    assert bars[-1].start == clock.now
    assert bars[0].start == clock.now - timedelta(minutes=59)


def test_history_of_a_long_live_run_is_all_live() -> None:
    clock = FakeClock(at(15, 30, 59))  # every tick in a minute's last second
    engine, _ = make_engine(clock=clock, bar_history_minutes=20)
    run_market(engine, clock, ticks=30, seconds=60)
    lasts = [engine.quote("AAPL").last]
    clock.advance(seconds=60)
    engine.tick()
    lasts.append(engine.quote("AAPL").last)

    bars = engine.bars("AAPL", M1, 1000)

    assert len(bars) == 20
    assert [b.close for b in bars[-2:]] == lasts


def test_history_is_deterministic_for_a_seed() -> None:
    first, _ = make_engine(seed=11, symbols="AAPL,MSFT", bar_history_minutes=300)
    again, _ = make_engine(seed=11, symbols="MSFT,SPY,AAPL", bar_history_minutes=300)
    other, _ = make_engine(seed=12, symbols="AAPL", bar_history_minutes=300)

    bars = first.bars("AAPL", M1, 300)

    assert bars == again.bars("AAPL", M1, 300)
    assert bars != other.bars("AAPL", M1, 300)
    assert len({b.close for b in bars}) > 10  # it really walks


def test_asking_for_bars_does_not_change_the_live_market() -> None:
    clock_a, clock_b = FakeClock(), FakeClock()
    watched, _ = make_engine(clock=clock_a)
    unwatched, _ = make_engine(clock=clock_b)

    path_a: list[Quote] = []
    path_b: list[Quote] = []
    for _ in range(50):
        for clock, engine, path in ((clock_a, watched, path_a), (clock_b, unwatched, path_b)):
            clock.advance(seconds=20)
            engine.tick()
            path.append(engine.quote("AAPL"))
        watched.bars("AAPL", M5, 3)

    assert path_a == path_b


def test_shorter_history_is_the_newest_part_of_a_longer_one() -> None:
    short, _ = make_engine(bar_history_minutes=100)
    long, _ = make_engine(bar_history_minutes=1000)

    assert short.bars("AAPL", M1, 100) == long.bars("AAPL", M1, 100)


# -- aggregation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "key"),
    [
        (M5, lambda t: t.replace(minute=t.minute - t.minute % 5)),
        (H1, lambda t: t.replace(minute=0)),
    ],
)
def test_intervals_aggregate_the_minutes(
    interval: BarInterval, key: Callable[[datetime], datetime]
) -> None:
    clock = FakeClock(at(15, 30))
    engine, _ = make_engine(clock=clock, bar_history_minutes=600)
    run_market(engine, clock, ticks=400, seconds=23)
    minutes = engine.bars("AAPL", M1, 600)

    aggregated = engine.bars("AAPL", interval, 1000)

    assert aggregated == aggregate(minutes, key)
    assert sum(b.volume for b in aggregated) == sum(b.volume for b in minutes)


def test_daily_bars_are_the_regular_sessions_of_trading_days_across_dst() -> None:
    clock = FakeClock(at(15, 30, day=11))  # Monday after the switch to EDT
    engine, _ = make_engine(clock=clock, calendar=nyse(), bar_history_minutes=4 * 1440)
    minutes = engine.bars("AAPL", M1, 4 * 1440)

    days = engine.bars("AAPL", D1, 10)

    # Thursday, Friday (EST: midnight is 05:00 UTC), no weekend, Monday (EDT: 04:00 UTC).
    assert [d.start for d in days][-3:] == [
        datetime(2024, 3, 7, 5, 0, tzinfo=UTC),
        datetime(2024, 3, 8, 5, 0, tzinfo=UTC),
        datetime(2024, 3, 11, 4, 0, tzinfo=UTC),
    ]

    def local_midnight(t: datetime) -> datetime:
        local = t.astimezone(NEW_YORK)
        return datetime(local.year, local.month, local.day, tzinfo=NEW_YORK).astimezone(UTC)

    regular = [b for b in minutes if nyse().is_regular_hours(b.start)]
    assert days[-3:] == aggregate(regular, local_midnight)[-3:]
    friday = [b for b in regular if b.start.astimezone(NEW_YORK).day == 8]
    assert len(friday) == 390  # 09:30 to 16:00
    assert days[-2].open == friday[0].open
    assert days[-2].close == friday[-1].close


def test_limit_and_end_pick_the_newest_bars_before_end() -> None:
    engine, _ = make_engine(bar_history_minutes=600)

    assert [b.start for b in engine.bars("AAPL", M1, 3, at(15, 20))] == [
        at(15, 17),
        at(15, 18),
        at(15, 19),
    ]
    assert engine.bars("AAPL", M1, 1, at(15, 20, 30))[0].start == at(15, 20)
    naive = datetime(2024, 3, 4, 15, 20)  # taken as UTC
    assert engine.bars("AAPL", M1, 3, naive) == engine.bars("AAPL", M1, 3, at(15, 20))
    assert [b.start for b in engine.bars("AAPL", H1, 2, at(14, 10))] == [at(13, 0), at(14, 0)]
    partial = engine.bars("AAPL", H1, 1, at(14, 10))[0]
    assert partial.close == engine.bars("AAPL", M1, 1, at(14, 10))[0].close
    assert engine.bars("AAPL", M1, 5, at(0, 0, day=1)) == []


def test_bar_prices_are_decimals_on_the_tick_grid() -> None:
    clock = FakeClock()
    engine, _ = make_engine(clock=clock, bar_history_minutes=300)
    run_market(engine, clock, ticks=100, seconds=10)

    for interval in BarInterval:
        for bar in engine.bars("AAPL", interval, 500):
            for price in (bar.open, bar.high, bar.low, bar.close):
                assert price % D("0.01") == 0
                assert price > 0
            assert bar.low <= min(bar.open, bar.close)
            assert bar.high >= max(bar.open, bar.close)
            assert bar.volume > 0


def test_bars_of_an_unknown_symbol_or_with_a_bad_limit_are_refused() -> None:
    engine, _ = make_engine()

    with pytest.raises(BrokerRejectedError, match="unknown symbol"):
        engine.bars("ZZZZ", M1, 10)
    with pytest.raises(BrokerRejectedError, match="limit"):
        engine.bars("AAPL", M1, 0)


# -- storage ---------------------------------------------------------------------------------


def test_minute_bars_trim_old_minutes_and_survive_a_clock_going_back() -> None:
    series = MinuteBars(3)
    for minute in range(100):
        series.put((minute, 1000 + minute, 1000 + minute, 1000 + minute, 1000 + minute, 10))
    series.put((99, 1099, 5000, 1099, 5000, 15))  # the newest minute again: replaced
    series.put((50, 7, 7, 7, 7, 7))  # an earlier minute (a clock gone back): ignored

    rows = series.aggregate(10, end_minute=1_000, bucket_start=lambda m: m)

    assert len(series) == 3
    assert rows == [
        (97, 1097, 1097, 1097, 1097, 10),
        (98, 1098, 1098, 1098, 1098, 10),
        (99, 1099, 5000, 1099, 5000, 15),
    ]


def test_minute_bars_refuse_no_capacity() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MinuteBars(0)
