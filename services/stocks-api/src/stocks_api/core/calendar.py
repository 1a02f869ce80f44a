"""The trading-session calendar: when the regular session is open and where a trading day ends.

One calendar serves two masters: the simulated market (DAY orders expire at the regular
close; outside regular hours only `outside_rth` orders work) and the portfolio (daily P&L
resets at the session boundary). A trading day runs from one regular close to the next,
so after-hours trades count towards the next session, as at IBKR.

Times of day are minutes after local midnight in the calendar's time zone; `close` may be
1440 ("24:00") for a session that runs to midnight. Exchange holidays and early closes are
lists of dates: an exchange's table (`core.nyse`, chosen by name in `build_calendar`) plus
configured extra closures; nothing here knows an exchange's holiday rules.

Besides the regular session, each trading day has an extended window (pre-market from
`extended_open`, after hours until `extended_close`), where `outside_rth` orders work. The
window always contains the regular session. On an early-close day the after-hours end as
much earlier as the regular close does (NYSE: 13:00 close, after hours until 17:00).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stocks_api.core import nyse

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A calendar with no trading day within this many days is a configuration error.
_SEARCH_DAYS = 370
# The exchange tables `build_calendar` knows ("none": only the configured holidays).
EXCHANGES = ("nyse", "none")
# NYSE's hours: early closes at 13:00, pre-market from 04:00, after hours until 20:00.
DEFAULT_EARLY_CLOSE = 13 * 60
DEFAULT_EXTENDED_OPEN = 4 * 60
DEFAULT_EXTENDED_CLOSE = 20 * 60


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
class TradingSession:
    """One trading day: its regular and extended sessions as UTC datetimes."""

    date: date
    open: datetime
    close: datetime
    extended_open: datetime
    extended_close: datetime
    # The regular session closes early this day (NYSE: 13:00).
    early_close: bool


@dataclass(frozen=True, slots=True)
class SessionCalendar:
    """Regular and extended trading hours on trading days; see the module docstring."""

    zone: ZoneInfo
    open_minute: int
    close_minute: int
    weekdays: frozenset[int]
    holidays: frozenset[date] = frozenset()
    early_closes: frozenset[date] = frozenset()
    early_close_minute: int = DEFAULT_EARLY_CLOSE
    extended_open_minute: int = DEFAULT_EXTENDED_OPEN
    extended_close_minute: int = DEFAULT_EXTENDED_CLOSE

    def __post_init__(self) -> None:
        """Refuse sessions that end before they start or never happen."""
        if not 0 <= self.open_minute < self.close_minute <= MINUTES_PER_DAY:
            raise ValueError("the session must open before it closes, within one day")
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ValueError("the calendar needs trading weekdays between 0 and 6")
        if not 0 <= self.extended_open_minute < self.extended_close_minute <= MINUTES_PER_DAY:
            raise ValueError("the extended hours must open before they close, within one day")
        if self.early_closes and not self.open_minute < self.early_close_minute:
            raise ValueError("the early close must come after the regular open")

    @classmethod
    def always_open(cls, zone: str = "UTC") -> SessionCalendar:
        """A market open around the clock every day (the trading day ends at midnight).

        Its extended window is the regular session: both cover every minute.
        """
        return cls(load_zone(zone), 0, MINUTES_PER_DAY, frozenset(range(7)))

    def is_trading_day(self, day: date) -> bool:
        """Tell whether the regular session happens on `day` (a local date)."""
        return day.weekday() in self.weekdays and day not in self.holidays

    def is_early_close(self, day: date) -> bool:
        """Tell whether the regular session of the trading day `day` closes early."""
        return (
            self.is_trading_day(day)
            and day in self.early_closes
            and self.early_close_minute < self.close_minute
        )

    def session_of(self, day: date) -> TradingSession | None:
        """Return the sessions of the local date `day`, None on a non-trading day."""
        if not self.is_trading_day(day):
            return None
        early = self.is_early_close(day)
        close = self.early_close_minute if early else self.close_minute
        # The after hours end as much earlier as the regular close does (NYSE: 20:00 -> 17:00).
        extended_close = self.extended_close_minute - (self.close_minute - close)
        return TradingSession(
            date=day,
            open=self._at(day, self.open_minute),
            close=self._at(day, close),
            extended_open=self._at(day, min(self.extended_open_minute, self.open_minute)),
            extended_close=self._at(day, max(extended_close, close)),
            early_close=early,
        )

    def regular_hours_of(self, day: date) -> tuple[datetime, datetime] | None:
        """Return the regular (open, close) of the local date `day` in UTC, None if closed."""
        session = self.session_of(day)
        return None if session is None else (session.open, session.close)

    def extended_hours_of(self, day: date) -> tuple[datetime, datetime] | None:
        """Return (pre-market open, after-hours close) of `day` in UTC, None if closed."""
        session = self.session_of(day)
        return None if session is None else (session.extended_open, session.extended_close)

    def sessions(self, start: date, end: date) -> list[TradingSession]:
        """Return the trading days from `start` to `end` (local dates, both included)."""
        days = (start + timedelta(days=n) for n in range((end - start).days + 1))
        return [session for day in days if (session := self.session_of(day)) is not None]

    def is_regular_hours(self, at: datetime) -> bool:
        """Tell whether the regular session is open at `at` (an aware datetime)."""
        hours = self.regular_hours_of(at.astimezone(self.zone).date())
        return hours is not None and hours[0] <= at < hours[1]

    def is_extended_hours(self, at: datetime) -> bool:
        """Tell whether `at` lies in the extended window (which contains the regular session)."""
        hours = self.extended_hours_of(at.astimezone(self.zone).date())
        return hours is not None and hours[0] <= at < hours[1]

    def next_open(self, at: datetime) -> datetime:
        """Return the first regular open strictly after `at` (the next day's when open)."""
        return self._first_after(at, lambda s: s.open)

    def next_extended_open(self, at: datetime) -> datetime:
        """Return the first pre-market open strictly after `at`."""
        return self._first_after(at, lambda s: s.extended_open)

    def next_close(self, at: datetime) -> datetime:
        """Return the first regular close strictly after `at` (when a DAY order expires)."""
        return self._first_after(at, lambda s: s.close)

    def last_close(self, at: datetime) -> datetime:
        """Return the latest regular close at or before `at`: where the trading day began."""
        day = at.astimezone(self.zone).date()
        for _ in range(_SEARCH_DAYS):
            session = self.session_of(day)
            if session is not None and session.close <= at:
                return session.close
            day -= timedelta(days=1)
        raise ValueError("no trading day within a year")  # pragma: no cover - validated

    def _first_after(self, at: datetime, moment: Callable[[TradingSession], datetime]) -> datetime:
        """Return the earliest `moment` of a session that lies strictly after `at`."""
        day = at.astimezone(self.zone).date()
        for _ in range(_SEARCH_DAYS):
            session = self.session_of(day)
            if session is not None and moment(session) > at:
                return moment(session)
            day += timedelta(days=1)
        raise ValueError("no trading day within a year")  # pragma: no cover - validated

    def _at(self, day: date, minute: int) -> datetime:
        """Return `minute` after local midnight of `day` as a UTC datetime."""
        if minute == MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), 0
        # Wall-clock time in the local zone, then converted: DST days stay correct.
        local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.zone)
        return local.astimezone(UTC)


def exchange_days(exchange: str) -> tuple[frozenset[date], frozenset[date]]:
    """Return the (holidays, early closes) of `exchange`: ``"nyse"`` or ``"none"``.

    Raises:
        ValueError: an unknown exchange.
    """
    if exchange == "nyse":
        return nyse.HOLIDAYS, nyse.EARLY_CLOSES
    if exchange == "none":
        return frozenset(), frozenset()
    raise ValueError(f"unknown exchange {exchange!r}: use {' or '.join(EXCHANGES)}")


def build_calendar(
    *,
    zone: str,
    open_at: str,
    close_at: str,
    weekdays: str,
    holidays: Iterable[date] | str = "",
    exchange: str = "none",
    early_close_at: str = "13:00",
    extended_open_at: str = "04:00",
    extended_close_at: str = "20:00",
) -> SessionCalendar:
    """Build a calendar from its textual settings.

    `holidays` are closures on top of the `exchange`'s own table.

    Raises:
        ValueError: any part is invalid (with a message naming it).
    """
    parsed_holidays = parse_dates(holidays) if isinstance(holidays, str) else frozenset(holidays)
    exchange_holidays, early_closes = exchange_days(exchange)
    return SessionCalendar(
        load_zone(zone),
        parse_time_of_day(open_at),
        parse_time_of_day(close_at),
        parse_weekdays(weekdays),
        exchange_holidays | parsed_holidays,
        early_closes,
        parse_time_of_day(early_close_at),
        parse_time_of_day(extended_open_at),
        parse_time_of_day(extended_close_at),
    )
