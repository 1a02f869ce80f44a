"""The default NYSE calendar: holidays, early closes, extended hours, sessions and opens."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from stocks_api.core.calendar import SessionCalendar, TradingSession, build_calendar
from stocks_api.core.config import SessionSettings


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def nyse() -> SessionCalendar:
    """The calendar of the default settings: the NYSE's."""
    return SessionSettings().calendar()


# -- holidays and early closes ---------------------------------------------------------------


def test_the_default_calendar_knows_the_nyse_holidays(nyse: SessionCalendar) -> None:
    thanksgiving, christmas = date(2026, 11, 26), date(2026, 12, 25)

    assert not nyse.is_trading_day(thanksgiving)
    assert nyse.regular_hours_of(thanksgiving) is None
    assert nyse.extended_hours_of(christmas) is None
    assert not nyse.is_regular_hours(utc(2026, 11, 26, 15, 0))
    assert not nyse.is_extended_hours(utc(2026, 11, 26, 15, 0))
    assert nyse.regular_hours_of(date(2026, 11, 25)) == (
        utc(2026, 11, 25, 14, 30),
        utc(2026, 11, 25, 21, 0),
    )


def test_the_day_after_thanksgiving_closes_at_13(nyse: SessionCalendar) -> None:
    friday = date(2026, 11, 27)  # EST: 13:00 New York is 18:00 UTC

    assert nyse.is_early_close(friday)
    assert nyse.regular_hours_of(friday) == (utc(2026, 11, 27, 14, 30), utc(2026, 11, 27, 18, 0))
    # After hours end at 17:00 New York, as the NYSE's do on an early-close day.
    assert nyse.extended_hours_of(friday) == (utc(2026, 11, 27, 9, 0), utc(2026, 11, 27, 22, 0))
    assert nyse.is_regular_hours(utc(2026, 11, 27, 17, 59))
    assert not nyse.is_regular_hours(utc(2026, 11, 27, 18, 0))
    assert nyse.is_extended_hours(utc(2026, 11, 27, 21, 59))
    assert not nyse.is_extended_hours(utc(2026, 11, 27, 22, 0))
    assert nyse.next_close(utc(2026, 11, 27, 15, 0)) == utc(2026, 11, 27, 18, 0)
    assert nyse.last_close(utc(2026, 11, 27, 19, 0)) == utc(2026, 11, 27, 18, 0)
    # Monday's trading day begins at Friday's early close (Thanksgiving skipped before it).
    assert nyse.last_close(utc(2026, 11, 30, 12, 0)) == utc(2026, 11, 27, 18, 0)
    assert nyse.last_close(utc(2026, 11, 27, 12, 0)) == utc(2026, 11, 25, 21, 0)


def test_extra_holidays_add_to_the_exchange_table() -> None:
    calendar = SessionSettings(holidays="2026-11-25").calendar()

    assert not calendar.is_trading_day(date(2026, 11, 25))
    assert not calendar.is_trading_day(date(2026, 11, 26))  # still the NYSE's Thanksgiving


def test_no_exchange_table_means_only_configured_holidays() -> None:
    calendar = SessionSettings(exchange="none").calendar()

    assert calendar.is_trading_day(date(2026, 11, 26))
    assert not calendar.is_early_close(date(2026, 11, 27))
    assert calendar.regular_hours_of(date(2026, 11, 27)) == (
        utc(2026, 11, 27, 14, 30),
        utc(2026, 11, 27, 21, 0),
    )


def test_the_early_close_time_is_a_setting() -> None:
    calendar = SessionSettings(early_close="12:00").calendar()

    assert calendar.regular_hours_of(date(2026, 11, 27)) == (
        utc(2026, 11, 27, 14, 30),
        utc(2026, 11, 27, 17, 0),
    )


# -- extended hours and DST ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "regular", "extended"),
    [
        # Winter (EST, UTC-5) and summer (EDT, UTC-4).
        (
            date(2026, 1, 6),
            (utc(2026, 1, 6, 14, 30), utc(2026, 1, 6, 21)),
            (utc(2026, 1, 6, 9), utc(2026, 1, 7, 1)),
        ),
        (
            date(2026, 7, 7),
            (utc(2026, 7, 7, 13, 30), utc(2026, 7, 7, 20)),
            (utc(2026, 7, 7, 8), utc(2026, 7, 8, 0)),
        ),
        # The first trading days after the switches: Monday 2026-03-09 and 2026-11-02.
        (
            date(2026, 3, 9),
            (utc(2026, 3, 9, 13, 30), utc(2026, 3, 9, 20)),
            (utc(2026, 3, 9, 8), utc(2026, 3, 10, 0)),
        ),
        (
            date(2026, 11, 2),
            (utc(2026, 11, 2, 14, 30), utc(2026, 11, 2, 21)),
            (utc(2026, 11, 2, 9), utc(2026, 11, 3, 1)),
        ),
    ],
)
def test_sessions_in_utc_follow_daylight_saving(
    nyse: SessionCalendar,
    day: date,
    regular: tuple[datetime, datetime],
    extended: tuple[datetime, datetime],
) -> None:
    assert nyse.regular_hours_of(day) == regular
    assert nyse.extended_hours_of(day) == extended


def test_the_weekend_has_no_session(nyse: SessionCalendar) -> None:
    saturday, sunday = date(2026, 3, 7), date(2026, 3, 8)

    assert nyse.regular_hours_of(saturday) is None
    assert nyse.extended_hours_of(sunday) is None
    assert not nyse.is_extended_hours(utc(2026, 3, 7, 15, 0))
    assert nyse.sessions(saturday, sunday) == []


@pytest.mark.parametrize(
    ("at", "regular", "extended"),
    [
        (utc(2026, 1, 6, 8, 59), False, False),  # 03:59 New York
        (utc(2026, 1, 6, 9, 0), False, True),  # 04:00: pre-market
        (utc(2026, 1, 6, 14, 29), False, True),
        (utc(2026, 1, 6, 14, 30), True, True),  # the regular session is inside the window
        (utc(2026, 1, 6, 21, 0), False, True),  # 16:00: after hours
        (utc(2026, 1, 7, 0, 59), False, True),  # 19:59
        (utc(2026, 1, 7, 1, 0), False, False),  # 20:00
    ],
)
def test_extended_hours(nyse: SessionCalendar, at: datetime, regular: bool, extended: bool) -> None:
    assert nyse.is_regular_hours(at) is regular
    assert nyse.is_extended_hours(at) is extended


def test_extended_hours_are_settings() -> None:
    calendar = SessionSettings(extended_open="07:00", extended_close="18:00").calendar()

    assert calendar.extended_hours_of(date(2026, 1, 6)) == (
        utc(2026, 1, 6, 12),
        utc(2026, 1, 6, 23),
    )
    # On an early-close day the after hours end as much earlier: 18:00 - 3 h.
    assert calendar.extended_hours_of(date(2026, 11, 27))[1] == utc(2026, 11, 27, 20)  # type: ignore[index]


@pytest.mark.parametrize(
    "changes",
    [
        {"extended_open": "20:00", "extended_close": "04:00"},
        {"early_close": "09:00"},
        {"extended_close": "25:00"},
        {"exchange": "lse"},
    ],
)
def test_bad_session_settings_are_refused(changes: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SessionSettings.model_validate(changes)


def test_always_open_covers_every_minute_in_both_sessions() -> None:
    calendar = SessionCalendar.always_open()
    day = date(2026, 11, 27)

    assert calendar.regular_hours_of(day) == (utc(2026, 11, 27), utc(2026, 11, 28))
    assert calendar.extended_hours_of(day) == (utc(2026, 11, 27), utc(2026, 11, 28))
    assert calendar.is_extended_hours(utc(2026, 11, 26, 23, 59))
    assert calendar.is_regular_hours(utc(2026, 11, 26, 23, 59))


def test_a_short_regular_session_keeps_a_default_extended_window() -> None:
    calendar = build_calendar(zone="UTC", open_at="00:00", close_at="24:00", weekdays="mon-fri")

    # The window always contains the regular session, whatever the extended settings say.
    assert calendar.extended_hours_of(date(2026, 1, 6)) == (utc(2026, 1, 6), utc(2026, 1, 7))


# -- opens and sessions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "next_open"),
    [
        (utc(2026, 1, 6, 12, 0), utc(2026, 1, 6, 14, 30)),  # before the open: today's
        (utc(2026, 1, 6, 14, 30), utc(2026, 1, 7, 14, 30)),  # open: the next day's
        (utc(2026, 1, 6, 22, 0), utc(2026, 1, 7, 14, 30)),  # after the close
        (utc(2026, 1, 9, 22, 0), utc(2026, 1, 12, 14, 30)),  # Friday evening: Monday
        (utc(2026, 11, 25, 22, 0), utc(2026, 11, 27, 14, 30)),  # over Thanksgiving
        (utc(2026, 3, 7, 12, 0), utc(2026, 3, 9, 13, 30)),  # weekend of the DST switch
    ],
)
def test_next_open(nyse: SessionCalendar, at: datetime, next_open: datetime) -> None:
    assert nyse.next_open(at) == next_open


def test_next_extended_open(nyse: SessionCalendar) -> None:
    assert nyse.next_extended_open(utc(2026, 1, 6, 8, 0)) == utc(2026, 1, 6, 9, 0)
    assert nyse.next_extended_open(utc(2026, 1, 6, 9, 0)) == utc(2026, 1, 7, 9, 0)
    assert nyse.next_extended_open(utc(2026, 12, 24, 23, 0)) == utc(2026, 12, 28, 9, 0)


def test_sessions_between_two_dates(nyse: SessionCalendar) -> None:
    sessions = nyse.sessions(date(2026, 11, 25), date(2026, 11, 30))

    assert [s.date for s in sessions] == [
        date(2026, 11, 25),
        date(2026, 11, 27),
        date(2026, 11, 30),
    ]
    assert sessions[1] == TradingSession(
        date=date(2026, 11, 27),
        open=utc(2026, 11, 27, 14, 30),
        close=utc(2026, 11, 27, 18, 0),
        extended_open=utc(2026, 11, 27, 9, 0),
        extended_close=utc(2026, 11, 27, 22, 0),
        early_close=True,
    )
    assert not sessions[0].early_close
    assert nyse.sessions(date(2026, 11, 30), date(2026, 11, 25)) == []


def test_2026_has_the_nyse_count_of_sessions(nyse: SessionCalendar) -> None:
    sessions = nyse.sessions(date(2026, 1, 1), date(2026, 12, 31))

    assert len(sessions) == 251
    assert [s.date for s in sessions if s.early_close] == [date(2026, 11, 27), date(2026, 12, 24)]
