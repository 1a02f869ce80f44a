"""The NYSE table of `core.nyse` against the XNYS calendar of `exchange_calendars`.

The library is a dev dependency only (it brings pandas and numpy): the API process reads
the table, and this test keeps the table honest for every year it covers.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import exchange_calendars as xc
import pytest

from stocks_api.core import nyse

# pandas' own deprecations inside the library are not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NEW_YORK = ZoneInfo("America/New_York")
FIRST = date(nyse.FIRST_YEAR, 1, 1)
LAST = date(nyse.LAST_YEAR, 12, 31)


@pytest.fixture(scope="module")
def xnys() -> object:
    return xc.get_calendar("XNYS", start=FIRST.isoformat(), end=LAST.isoformat())


def _weekdays() -> list[date]:
    days = (FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1))
    return [day for day in days if day.weekday() < 5]


def test_the_table_covers_the_years_to_come() -> None:
    assert nyse.FIRST_YEAR <= 2020
    assert nyse.LAST_YEAR >= 2030
    assert all(nyse.FIRST_YEAR <= day.year <= nyse.LAST_YEAR for day in nyse.HOLIDAYS)
    assert all(nyse.FIRST_YEAR <= day.year <= nyse.LAST_YEAR for day in nyse.EARLY_CLOSES)


def test_every_holiday_matches_the_library(xnys: object) -> None:
    sessions = {ts.date() for ts in xnys.sessions}  # type: ignore[attr-defined]
    library = {day for day in _weekdays() if day not in sessions}

    assert set(nyse.HOLIDAYS) == library
    assert date(2025, 1, 9) in nyse.HOLIDAYS  # an ad-hoc closure, not a rule


def test_every_early_close_matches_the_library(xnys: object) -> None:
    library = {ts.date() for ts in xnys.early_closes}  # type: ignore[attr-defined]
    closes = xnys.schedule["close"]  # type: ignore[attr-defined]

    assert set(nyse.EARLY_CLOSES) == library
    for day in nyse.EARLY_CLOSES:
        local = closes.loc[day.isoformat()].to_pydatetime().astimezone(NEW_YORK)
        assert local.time() == time(13, 0), day
    assert not nyse.EARLY_CLOSES & nyse.HOLIDAYS
