"""When an order placed now waits, and what its notice says (the simulated market's rule)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stocks_api.core.calendar import SessionCalendar
from stocks_api.core.config import SessionSettings
from stocks_api.orders.waiting import wait_of

NYSE = SessionSettings().calendar()


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "outside_rth"),
    [
        (utc(12, 1, 15), False),  # Tuesday 10:00 New York: the regular session
        (utc(12, 1, 15), True),
        (utc(12, 1, 12), True),  # 07:00 pre-market, outside_rth
        (utc(12, 1, 22), True),  # 17:00 after hours, outside_rth
        (utc(11, 27, 21, 59), True),  # 16:59 on an early-close day: still after hours
    ],
)
def test_an_order_that_can_work_now_does_not_wait(at: datetime, outside_rth: bool) -> None:
    assert wait_of(NYSE, outside_rth=outside_rth, at=at) is None


@pytest.mark.parametrize(
    ("at", "outside_rth", "notice"),
    [
        # 17:00 Tuesday, a regular-hours order: Wednesday's open.
        (
            utc(12, 1, 22),
            False,
            "waits for the regular session at 09:30 America/New_York (Wed 2026-12-02)",
        ),
        # 07:00 pre-market, a regular-hours order: today's open.
        (
            utc(12, 1, 12),
            False,
            "waits for the regular session at 09:30 America/New_York (Tue 2026-12-01)",
        ),
        # 21:00, outside_rth: the extended hours are closed too, until 04:00.
        (
            utc(12, 2, 2),
            True,
            "waits for the extended hours at 04:00 America/New_York (Wed 2026-12-02)",
        ),
        # Friday 13:30 after the early close, regular hours: Monday.
        (
            utc(11, 27, 18, 30),
            False,
            "waits for the regular session at 09:30 America/New_York (Mon 2026-11-30)",
        ),
        # Friday 17:00 after the early close's after hours, outside_rth: Monday 04:00.
        (
            utc(11, 27, 22),
            True,
            "waits for the extended hours at 04:00 America/New_York (Mon 2026-11-30)",
        ),
        # Thanksgiving.
        (
            utc(11, 26, 15),
            True,
            "waits for the extended hours at 04:00 America/New_York (Fri 2026-11-27)",
        ),
        # Saturday, in summer time.
        (
            datetime(2026, 7, 11, 15, tzinfo=UTC),
            False,
            "waits for the regular session at 09:30 America/New_York (Mon 2026-07-13)",
        ),
    ],
)
def test_an_order_that_cannot_work_now_says_until_when(
    at: datetime, outside_rth: bool, notice: str
) -> None:
    wait = wait_of(NYSE, outside_rth=outside_rth, at=at)

    assert wait is not None
    assert wait.notice == notice
    assert wait.session == ("extended" if outside_rth else "regular")
    assert wait.until == (NYSE.next_extended_open(at) if outside_rth else NYSE.next_open(at))


def test_an_always_open_market_never_waits() -> None:
    calendar = SessionCalendar.always_open()

    assert wait_of(calendar, outside_rth=False, at=utc(11, 28, 3)) is None
