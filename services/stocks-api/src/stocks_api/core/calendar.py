"""The trading-session calendar: when the regular session is open and where a trading day ends.

One calendar serves two masters: the simulated market (DAY orders expire at the regular
close; outside regular hours only `outside_rth` orders work) and the portfolio (daily P&L
resets at the session boundary). A trading day runs from one regular close to the next,
so after-hours trades count towards the next session, as at IBKR.

Times of day are minutes after local midnight in the calendar's time zone; `close` may be
1440 ("24:00") for a session that runs to midnight. Exchange holidays are a configured
list of dates; nothing here knows the NYSE's holiday rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with no trading day within this many days is a configuration error.
_SEARCH_DAYS = 370


def parse_time_of_day(text: str) -> int:
    """Parse ``"HH:MM"`` (``"24:00"`` allowed) into minutes after midnight.

    Raises:
        ValueError: not a time of day.
    """
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"invalid time of day {text!r}: expected HH:MM")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > MINUTES_PER_DAY:
        raise ValueError(f"invalid time of day {text!r}: must be between 00:00 and 24:00")
    return total


def parse_weekdays(text: str) -> frozenset[int]:
    """Parse ``"mon,tue"`` or a range ``"mon-fri"`` into weekday numbers (Monday is 0).

    Raises:
        ValueError: an unknown day name or an empty list.
    """
    days: set[int] = set()
    for raw in text.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        first, sep, last = entry.partition("-")
        for name in (first, last) if sep else (first,):
            if name not in WEEKDAYS:
                raise ValueError(f"unknown weekday {name!r}: use {', '.join(WEEKDAYS)}")
        start = WEEKDAYS.index(first)
        end = WEEKDAYS.index(last) if sep else start
        if end < start:
            raise ValueError(f"weekday range {entry!r} runs backwards")
        days.update(range(start, end + 1))
    if not days:
        raise ValueError("the calendar needs at least one trading weekday")
    return frozenset(days)


def parse_dates(text: str) -> frozenset[date]:
    """Parse a comma-separated list of ISO dates (``"2026-12-25,2027-01-01"``).

    Raises:
        ValueError: a date that is not ISO 8601 (YYYY-MM-DD).
    """
    dates: set[date] = set()
    for raw in text.split(","):
        entry = raw.strip()
        if entry:
            try:
                dates.add(date.fromisoformat(entry))
            except ValueError:
                raise ValueError(f"invalid holiday {entry!r}: expected YYYY-MM-DD") from None
    return frozenset(dates)


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA time zone `name`.

    Raises:
        ValueError: an unknown zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as America/New_York"
        ) from None


@dataclass(frozen=True, slots=True)
class SessionCalendar:
    """Regular trading hours on trading days; see the module docstring."""

    zone: ZoneInfo
    open_minute: int
    close_minute: int
    weekdays: frozenset[int]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        """Refuse sessions that end before they start or never happen."""
        if not 0 <= self.open_minute < self.close_minute <= MINUTES_PER_DAY:
            raise ValueError("the session must open before it closes, within one day")
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError("the calendar needs trading weekdays between 0 and 6")

    @classmethod
    def always_open(cls, zone: str = "UTC") -> SessionCalendar:
        """A market open around the clock every day (the trading day ends at midnight)."""
        return cls(load_zone(zone), 0, MINUTES_PER_DAY, frozenset(range(7)))

    def is_trading_day(self, day: date) -> bool:
        """Tell whether the regular session happens on `day` (a local date)."""
        return day.weekday() in self.weekdays and day not in self.holidays

    def is_regular_hours(self, at: datetime) -> bool:
        """Tell whether the regular session is open at `at` (an aware datetime)."""
        local = at.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return self.is_trading_day(local.date()) and self.open_minute <= minute < self.close_minute

    def next_close(self, at: datetime) -> datetime:
        """Return the first regular close strictly after `at` (when a DAY order expires)."""
        day = at.astimezone(self.zone).date()
        for _ in range(_SEARCH_DAYS):
            if self.is_trading_day(day):
                close = self._close_of(day)
                if close > at:
                    return close
            day += timedelta(days=1)
        raise ValueError("no trading day within a year")  # pragma: no cover - validated

    def last_close(self, at: datetime) -> datetime:
        """Return the latest regular close at or before `at`: where the trading day began."""
        day = at.astimezone(self.zone).date()
        for _ in range(_SEARCH_DAYS):
            if self.is_trading_day(day):
                close = self._close_of(day)
                if close <= at:
                    return close
            day -= timedelta(days=1)
        raise ValueError("no trading day within a year")  # pragma: no cover - validated

    def _close_of(self, day: date) -> datetime:
        """Return the regular close of the local date `day` as a UTC datetime."""
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        # Add wall-clock minutes in local time, then convert: DST days stay correct.
        local = midnight + timedelta(minutes=self.close_minute)
        if self.close_minute == MINUTES_PER_DAY:
            following = day + timedelta(days=1)
            local = datetime(following.year, following.month, following.day, tzinfo=self.zone)
        return local.astimezone(UTC)


def build_calendar(
    *, zone: str, open_at: str, close_at: str, weekdays: str, holidays: Iterable[date] | str = ""
) -> SessionCalendar:
    """Build a calendar from its textual settings.

    Raises:
        ValueError: any part is invalid (with a message naming it).
    """
    parsed_holidays = parse_dates(holidays) if isinstance(holidays, str) else frozenset(holidays)
    return SessionCalendar(
        load_zone(zone),
        parse_time_of_day(open_at),
        parse_time_of_day(close_at),
        parse_weekdays(weekdays),
        parsed_holidays,
    )
