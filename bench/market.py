"""The simulated market's statistics: live bars against back-filled history, and a restart.

For each symbol and each start time, an engine starts at that time (on the NYSE calendar),
its history is back-filled, and then it runs live for `--minutes` simulated minutes,
ticking every `--tick` seconds. Printed per symbol (over all starts):

- the standard deviation of one-minute log returns (close to close) of the live bars and
  of the `--minutes` history bars just before the start, and their ratio;
- the mean volume per bar of both, and their ratio;
- the live high-low range per bar against history's (the issue's "cliff": 16x before);
- after the live run, a second engine started later (a restart) back-fills the same
  minutes: how many of the bars shown before it differ after it (must be 0);
- the annualised volatility of the daily closes over `--days` trading days, beside the
  documented profile.

The tolerance (TOLERANCE) is what tests/unit/broker/sim/test_market.py asserts: every
live/history ratio within a factor of 1.5. `--record` appends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from _common import command_line, cpu_model, git_commit, positive_int, record

from stocks_api.broker.protocol import Bar, BarInterval
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.broker.sim.symbols import parse_symbols
from stocks_api.core.calendar import SessionCalendar, build_calendar

TOLERANCE = 1.5
NEW_YORK_STARTS = ((10, 15), (11, 40), (13, 5), (14, 30))  # local times, mid-session
SYMBOLS = "AAPL,MSFT,GOOGL,AMZN,NVDA,META,TSLA,SPY,QQQ,IBM,AMD,NFLX"


class Clock:
    """A clock the bench moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def nyse() -> SessionCalendar:
    return build_calendar(
        zone="America/New_York",
        open_at="09:30",
        close_at="16:00",
        weekdays="mon-fri",
        exchange="nyse",
    )


def returns(bars: list[Bar]) -> list[float]:
    return [math.log(b.close / a.close) for a, b in itertools.pairwise(bars)]


def engine_at(clock: Clock, seed: int, calendar: SessionCalendar, symbols: str) -> MatchingEngine:
    return MatchingEngine(
        symbols=parse_symbols(symbols),
        seed=seed,
        on_event=lambda _: None,
        clock=clock,
        calendar=calendar,
        bar_history_minutes=3 * 1440,
    )


def starts(day: date, calendar: SessionCalendar) -> list[datetime]:
    """The start instants: mid-session times of the trading days from `day` back."""
    found: list[datetime] = []
    while len(found) < len(NEW_YORK_STARTS) * 2:
        if calendar.regular_hours_of(day) is not None:
            for hour, minute in NEW_YORK_STARTS:
                local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=calendar.zone)
                found.append(local.astimezone(UTC))
        day -= timedelta(days=1)
    return found


def measure(args: argparse.Namespace) -> list[dict[str, object]]:
    calendar = nyse()
    rows: list[dict[str, object]] = []
    per_symbol: dict[str, dict[str, list[float]]] = {}
    changed_total = shown_total = 0
    for start in starts(args.day, calendar):
        clock = Clock(start)
        engine = engine_at(clock, args.seed, calendar, args.symbols)
        history = {s: engine.bars(s, BarInterval.M1, args.minutes + 1) for s in engine.symbols()}
        for _ in range(int(args.minutes * 60 / args.tick)):
            clock.now += timedelta(seconds=args.tick)
            engine.tick()
        clock.now += timedelta(minutes=1)
        engine.tick()  # the last live minute is complete
        later = Clock(clock.now + timedelta(minutes=7))
        restarted = engine_at(later, args.seed, calendar, args.symbols)
        start_minute = start.replace(second=0, microsecond=0)
        for symbol in engine.symbols():
            shown = engine.bars(symbol, BarInterval.M1, 240, end=clock.now)
            shown = [b for b in shown if b.start < clock.now.replace(second=0, microsecond=0)]
            again = {b.start: b for b in restarted.bars(symbol, BarInterval.M1, 3 * 1440)}
            changed_total += sum(1 for b in shown if again.get(b.start) != b)
            shown_total += len(shown)
            live = [b for b in shown if b.start > start_minute][: args.minutes]
            past = [b for b in history[symbol] if b.start < start_minute][-args.minutes :]
            keys = ("lr", "hr", "lv", "hv", "lg", "hg")
            stats = per_symbol.setdefault(symbol, {key: [] for key in keys})
            stats["lr"].extend(returns(live))
            stats["hr"].extend(returns(past))
            stats["lv"].append(statistics.fmean(float(b.volume) for b in live))
            stats["hv"].append(statistics.fmean(float(b.volume) for b in past))
            stats["lg"].append(statistics.fmean(float(b.high - b.low) for b in live))
            stats["hg"].append(statistics.fmean(float(b.high - b.low) for b in past))
    # Daily closes over --days trading days, from one engine's daily history.
    end = datetime(args.day.year, args.day.month, args.day.day, 21, 0, tzinfo=UTC)
    daily_engine = MatchingEngine(
        symbols=parse_symbols(args.symbols),
        seed=args.seed,
        on_event=lambda _: None,
        clock=Clock(end),
        calendar=calendar,
        bar_history_minutes=(args.days * 7 // 5 + 4) * 1440,
    )
    for symbol in daily_engine.symbols():
        stats = per_symbol[symbol]
        days = daily_engine.bars(symbol, BarInterval.D1, args.days + 1)
        daily = returns(days)
        spec = next(s for s in parse_symbols(symbol))
        live_sd = statistics.stdev(stats["lr"])
        past_sd = statistics.stdev(stats["hr"])
        live_volume = statistics.fmean(stats["lv"])
        past_volume = statistics.fmean(stats["hv"])
        rows.append(
            {
                "symbol": symbol,
                "kind": spec.profile.kind,
                "sd live": live_sd,
                "sd history": past_sd,
                "sd ratio": live_sd / past_sd,
                "volume live": live_volume,
                "volume history": past_volume,
                "volume ratio": live_volume / past_volume,
                "range ratio": statistics.fmean(stats["lg"]) / statistics.fmean(stats["hg"]),
                "daily vol": statistics.stdev(daily) * math.sqrt(252) if len(daily) > 2 else 0.0,
                "profile vol": float(spec.profile.annual_volatility),
            }
        )
    rows.append({"changed": changed_total, "shown": shown_total})
    return rows


def table(rows: list[dict[str, object]], args: argparse.Namespace, seconds: float) -> str:
    *symbols, restart = rows
    lines = [
        f"## bench/market.py: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- commit {git_commit()}; {cpu_model()}",
        f"- seed {args.seed}; {len(NEW_YORK_STARTS) * 2} starts (mid-session, two trading days "
        f"up to {args.day}); {args.minutes} live minutes each, a tick every {args.tick} s; "
        f"daily volatility over {args.days} trading days; {seconds:.1f} s",
        f"- tolerance: every live/history ratio within a factor of {TOLERANCE}",
        "",
        f"Command: `{command_line(set())}`",
        "",
        "| symbol | kind | 1-min sd live | 1-min sd history | ratio | volume/bar live "
        "| volume/bar history | ratio | range ratio | daily vol (annualised) | profile vol "
        "| verdict |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for row in symbols:
        ratios = [float(row[k]) for k in ("sd ratio", "volume ratio", "range ratio")]  # type: ignore[arg-type]
        inside = all(1 / TOLERANCE <= r <= TOLERANCE for r in ratios)
        lines.append(
            f"| {row['symbol']} | {row['kind']} | {row['sd live']:.5f} | {row['sd history']:.5f} "
            f"| {row['sd ratio']:.2f} | {row['volume live']:,.0f} | {row['volume history']:,.0f} "
            f"| {row['volume ratio']:.2f} | {row['range ratio']:.2f} | {row['daily vol']:.2f} "
            f"| {row['profile vol']:.2f} | {'within' if inside else '**outside**'} |"
        )
    lines += [
        "",
        f"- restart: {restart['changed']} of {restart['shown']} one-minute bars shown before a "
        "restart differ after it",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--symbols", default=SYMBOLS)
    parser.add_argument("--minutes", type=positive_int, default=30)
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between ticks")
    parser.add_argument("--days", type=positive_int, default=20)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    rows = measure(args)
    section = table(rows, args, time.perf_counter() - began)
    print(section)
    if args.record:
        record(section)
    *symbols, restart = rows
    bad = [
        row["symbol"]
        for row in symbols
        if not all(
            1 / TOLERANCE <= float(row[k]) <= TOLERANCE  # type: ignore[arg-type]
            for k in ("sd ratio", "volume ratio", "range ratio")
        )
    ]
    return 1 if bad or restart["changed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
