"""The trading-session calendar: parsing, regular hours, and where trading days end."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from stocks_api.core.calendar import (
    SessionCalendar,
    build_calendar,
    load_zone,
    parse_dates,
    parse_time_of_day,
    parse_weekdays,
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def nyse(holidays: str = "") -> SessionCalendar:
    return build_calendar(
        zone="America/New_York",
        open_at="09:30",
        close_at="16:00",
        weekdays="mon-fri",
        holidays=holidays,
    )


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("00:00", 0),
        ("09:30", 570),
        (" 16:00 ", 960),
        ("9:05", 545),
        ("23:59", 1439),
        ("24:00", 1440),
    ],
)
def test_parse_time_of_day(text: str, minutes: int) -> None:
    assert parse_time_of_day(text) == minutes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0930", "expected HH:MM"),
        ("9:5", "expected HH:MM"),
        ("ab:cd", "expected HH:MM"),
        ("-1:00", "expected HH:MM"),
        ("", "expected HH:MM"),
        ("12:60", "between 00:00 and 24:00"),
        ("24:01", "between 00:00 and 24:00"),
        ("25:00", "between 00:00 and 24:00"),
    ],
)
def test_parse_time_of_day_refuses_nonsense(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time_of_day(text)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("Sat, sun", {5, 6}),
        ("mon,wed-thu,", {0, 2, 3}),
        ("tue-tue", {1}),
        ("mon-sun", set(range(7))),
    ],
)
def test_parse_weekdays(text: str, days: set[int]) -> None:
    assert parse_weekdays(text) == frozenset(days)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fri-mon", "runs backwards"),
        ("funday", "unknown weekday 'funday'"),
        ("mon-xyz", "unknown weekday 'xyz'"),
        ("", "at least one trading weekday"),
        (" , ", "at least one trading weekday"),
    ],
)
def test_parse_weekdays_refuses_nonsense(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_weekdays(text)


def test_parse_dates() -> None:
    assert parse_dates("2026-12-25, 2027-01-01,") == {date(2026, 12, 25), date(2027, 1, 1)}
    assert parse_dates("") == frozenset()
    with pytest.raises(ValueError, match="invalid holiday '12/25/2026': expected YYYY-MM-DD"):
        parse_dates("2026-12-24,12/25/2026")


def test_load_zone() -> None:
    assert load_zone("America/New_York").key == "America/New_York"
    for name in ("Mars/Olympus_Mons", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="unknown time zone"):
            load_zone(name)


@pytest.mark.parametrize(
    ("open_minute", "close_minute", "weekdays"),
    [
        (960, 570, {0}),
        (570, 570, {0}),
        (0, 1441, {0}),
        (-1, 960, {0}),
        (570, 960, set()),
        (570, 960, {7}),
    ],
)
def test_impossible_sessions_are_refused(
    open_minute: int, close_minute: int, weekdays: set[int]
) -> None:
    with pytest.raises(ValueError, match=r"the session|weekdays"):
        SessionCalendar(load_zone("UTC"), open_minute, close_minute, frozenset(weekdays))


def test_build_calendar_accepts_holidays_as_text_or_dates() -> None:
    from_text = nyse("2024-07-04")
    from_dates = build_calendar(
        zone="America/New_York",
        open_at="09:30",
        close_at="16:00",
        weekdays="mon-fri",
        holidays=[date(2024, 7, 4)],
    )

    assert from_text == from_dates
    assert from_text.holidays == {date(2024, 7, 4)}
    with pytest.raises(ValueError, match="unknown time zone"):
        build_calendar(zone="Nowhere", open_at="09:30", close_at="16:00", weekdays="mon-fri")


# -- regular hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (utc(2024, 3, 4, 14, 29, 59), False),  # Monday 09:29:59 EST
        (utc(2024, 3, 4, 14, 30), True),  # the open is inclusive
        (utc(2024, 3, 4, 20, 59, 59), True),
        (utc(2024, 3, 4, 21, 0), False),  # the close is exclusive
        (utc(2024, 3, 9, 15, 0), False),  # Saturday
        (utc(2024, 3, 10, 15, 0), False),  # Sunday
        # After the switch to daylight saving time the session moves an hour earlier in UTC.
        (utc(2024, 3, 11, 13, 30), True),
        (utc(2024, 3, 11, 20, 0), False),
        # And back in November.
        (utc(2024, 11, 1, 13, 30), True),
        (utc(2024, 11, 4, 13, 30), False),
        (utc(2024, 11, 4, 14, 30), True),
    ],
)
def test_regular_hours_in_new_york(at: datetime, open_: bool) -> None:
    assert nyse().is_regular_hours(at) is open_


def test_holidays_have_no_session() -> None:
    calendar = nyse("2024-07-04")

    assert not calendar.is_trading_day(date(2024, 7, 4))
    assert not calendar.is_regular_hours(utc(2024, 7, 4, 15, 0))
    assert calendar.is_regular_hours(utc(2024, 7, 5, 15, 0))


def test_times_are_compared_in_the_calendars_zone() -> None:
    tokyo = build_calendar(zone="Asia/Tokyo", open_at="09:00", close_at="15:00", weekdays="mon-fri")

    # Monday 09:00 in Tokyo is Sunday 24:00 UTC.
    assert tokyo.is_regular_hours(utc(2024, 3, 4, 0, 0))
    assert not tokyo.is_regular_hours(utc(2024, 3, 4, 6, 0))


# -- closes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "close"),
    [
        (utc(2024, 3, 4, 12, 0), utc(2024, 3, 4, 21, 0)),  # before the open: today's close
        (utc(2024, 3, 4, 15, 0), utc(2024, 3, 4, 21, 0)),
        (utc(2024, 3, 4, 20, 59, 59), utc(2024, 3, 4, 21, 0)),
        (utc(2024, 3, 4, 21, 0), utc(2024, 3, 5, 21, 0)),  # strictly after
        (utc(2024, 3, 8, 22, 0), utc(2024, 3, 11, 20, 0)),  # Friday evening: Monday, EDT
        (utc(2024, 3, 9, 12, 0), utc(2024, 3, 11, 20, 0)),
        (utc(2024, 3, 5, 3, 0), utc(2024, 3, 5, 21, 0)),  # Monday 22:00 New York
    ],
)
def test_next_close(at: datetime, close: datetime) -> None:
    assert nyse().next_close(at) == close


@pytest.mark.parametrize(
    ("at", "close"),
    [
        (utc(2024, 3, 4, 21, 0), utc(2024, 3, 4, 21, 0)),  # at the close: inclusive
        (utc(2024, 3, 4, 20, 59, 59), utc(2024, 3, 1, 21, 0)),  # Monday: Friday's close
        (utc(2024, 3, 11, 12, 0), utc(2024, 3, 8, 21, 0)),  # across the DST switch
        (utc(2024, 3, 11, 20, 0), utc(2024, 3, 11, 20, 0)),
        (utc(2024, 3, 10, 12, 0), utc(2024, 3, 8, 21, 0)),
    ],
)
def test_last_close(at: datetime, close: datetime) -> None:
    assert nyse().last_close(at) == close


def test_closes_skip_holidays() -> None:
    calendar = nyse("2024-07-04,2024-07-05")

    assert calendar.next_close(utc(2024, 7, 3, 21, 0)) == utc(2024, 7, 8, 20, 0)
    assert calendar.last_close(utc(2024, 7, 8, 12, 0)) == utc(2024, 7, 3, 20, 0)


def test_a_session_closing_at_midnight() -> None:
    calendar = build_calendar(zone="UTC", open_at="20:00", close_at="24:00", weekdays="mon-fri")

    assert calendar.is_regular_hours(utc(2024, 3, 4, 23, 59, 59))
    assert not calendar.is_regular_hours(utc(2024, 3, 5, 0, 0))
    assert calendar.next_close(utc(2024, 3, 4, 21, 0)) == utc(2024, 3, 5, 0, 0)
    assert calendar.next_close(utc(2024, 3, 5, 0, 0)) == utc(2024, 3, 6, 0, 0)
    # Friday's session ends at Saturday's midnight.
    assert calendar.next_close(utc(2024, 3, 8, 21, 0)) == utc(2024, 3, 9, 0, 0)
    assert calendar.last_close(utc(2024, 3, 9, 0, 0)) == utc(2024, 3, 9, 0, 0)
    assert calendar.last_close(utc(2024, 3, 11, 12, 0)) == utc(2024, 3, 9, 0, 0)


def test_a_midnight_close_in_a_zone_with_daylight_saving() -> None:
    calendar = build_calendar(
        zone="America/New_York", open_at="00:00", close_at="24:00", weekdays="mon-sun"
    )

    # The 23-hour day of the spring switch ends at 04:00 UTC, the day before at 05:00.
    assert calendar.next_close(utc(2024, 3, 10, 12, 0)) == utc(2024, 3, 11, 4, 0)
    assert calendar.next_close(utc(2024, 3, 10, 4, 0)) == utc(2024, 3, 10, 5, 0)


def test_always_open() -> None:
    calendar = SessionCalendar.always_open()

    assert all(calendar.is_regular_hours(utc(2024, 3, day, 3, 0)) for day in range(1, 15))
    assert calendar.next_close(utc(2024, 3, 9, 12, 0)) == utc(2024, 3, 10, 0, 0)
    assert calendar.next_close(utc(2024, 3, 10, 0, 0)) == utc(2024, 3, 11, 0, 0)
    assert calendar.last_close(utc(2024, 3, 9, 12, 0)) == utc(2024, 3, 9, 0, 0)
    local = SessionCalendar.always_open("America/New_York")
    assert local.next_close(utc(2024, 3, 9, 12, 0)) == utc(2024, 3, 10, 5, 0)
