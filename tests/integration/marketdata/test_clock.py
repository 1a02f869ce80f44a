"""GET /api/v1/clock and /calendar at pinned instants, from the configured NYSE calendar.

The broker plays no part (the calendar is ours): these run on the simulated broker, and
one test checks that under IBKR the same configured calendar answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from stocks_api.core.config import SessionSettings
from tests.conftest import api_client, make_key, make_settings, running_app


class Clock:
    """A settable clock for the app and its market."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def broker_kind() -> str:
    return "sim"


@pytest.fixture
def clock() -> Clock:
    return Clock(utc(12, 1, 15))


@pytest.fixture
async def nyse_client(
    clean_database: str, broker_kind: str, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app on the default (NYSE) calendar, whose clock the test sets."""
    settings = make_settings(clean_database, session=SessionSettings())
    async with (
        running_app(settings, broker_kind, clock=clock) as app,
        api_client(app, await make_key(app, "read")) as client,
    ):
        yield client


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Tuesday 2026-12-01 10:00 New York (EST): open.
        (
            utc(12, 1, 15),
            {
                "timestamp": "2026-12-01T10:00:00-05:00",
                "is_open": True,
                "session": "regular",
                "next_open": "2026-12-02T09:30:00-05:00",
                "next_close": "2026-12-01T16:00:00-05:00",
            },
        ),
        # 07:00: pre-market.
        (
            utc(12, 1, 12),
            {
                "is_open": False,
                "session": "pre_market",
                "next_open": "2026-12-01T09:30:00-05:00",
                "next_close": "2026-12-01T16:00:00-05:00",
            },
        ),
        # 17:00: after hours; 21:00: closed.
        (utc(12, 1, 22), {"is_open": False, "session": "after_hours"}),
        (
            utc(12, 2, 2),
            {
                "is_open": False,
                "session": "closed",
                "next_open": "2026-12-02T09:30:00-05:00",
            },
        ),
        # Thanksgiving: closed all day; Friday closes early at 13:00.
        (
            utc(11, 26, 15),
            {
                "is_open": False,
                "session": "closed",
                "next_open": "2026-11-27T09:30:00-05:00",
                "next_close": "2026-11-27T13:00:00-05:00",
            },
        ),
        # Friday 13:30, after the early close: after hours (until 17:00), Monday next.
        (
            utc(11, 27, 18, 30),
            {
                "is_open": False,
                "session": "after_hours",
                "next_open": "2026-11-30T09:30:00-05:00",
                "next_close": "2026-11-30T16:00:00-05:00",
            },
        ),
        (utc(11, 27, 22, 30), {"session": "closed"}),
        # Saturday.
        (
            utc(11, 28, 15),
            {"is_open": False, "session": "closed", "next_open": "2026-11-30T09:30:00-05:00"},
        ),
        # Summer time (EDT): 09:30 is 13:30 UTC.
        (
            datetime(2026, 7, 7, 13, 30, tzinfo=UTC),
            {
                "timestamp": "2026-07-07T09:30:00-04:00",
                "is_open": True,
                "next_close": "2026-07-07T16:00:00-04:00",
            },
        ),
    ],
)
async def test_the_clock_at_pinned_instants(
    nyse_client: httpx.AsyncClient, clock: Clock, now: datetime, expected: dict[str, Any]
) -> None:
    clock.now = now
    response = await nyse_client.get("/api/v1/clock")

    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "America/New_York"
    assert {key: body[key] for key in expected} == expected


async def test_the_calendar_lists_sessions_with_early_closes(
    nyse_client: httpx.AsyncClient,
) -> None:
    response = await nyse_client.get(
        "/api/v1/calendar", params={"start": "2026-11-25", "end": "2026-11-30"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "America/New_York"
    assert [s["date"] for s in body["sessions"]] == ["2026-11-25", "2026-11-27", "2026-11-30"]
    assert body["sessions"][1] == {
        "date": "2026-11-27",
        "open": "2026-11-27T09:30:00-05:00",
        "close": "2026-11-27T13:00:00-05:00",
        "extended_open": "2026-11-27T04:00:00-05:00",
        "extended_close": "2026-11-27T17:00:00-05:00",
        "early_close": True,
    }
    assert body["sessions"][0]["early_close"] is False


async def test_the_calendar_defaults_to_a_month_from_today(
    nyse_client: httpx.AsyncClient,
) -> None:
    body = (await nyse_client.get("/api/v1/calendar")).json()

    days = [s["date"] for s in body["sessions"]]
    assert days[0] == "2026-12-01"  # the pinned today
    assert days[-1] == "2026-12-31"
    assert "2026-12-25" not in days


@pytest.mark.parametrize(
    ("params", "code", "wording"),
    [
        ({"start": "2026-13-01"}, "VALIDATION_ERROR", "date"),
        ({"start": "tomorrow"}, "VALIDATION_ERROR", "date"),
        ({"start": "0"}, "VALIDATION_ERROR", "yyyy-mm-dd"),
        ({"end": "1700000000"}, "VALIDATION_ERROR", "yyyy-mm-dd"),
        ({"start": "2026-12-01", "end": "2026-11-30"}, "INVALID_DATE_RANGE", "before start"),
        ({"start": "2026-01-01", "end": "2027-01-07"}, "INVALID_DATE_RANGE", "at most 370"),
        ({"start": "2026-01-01", "unknown": "x"}, "VALIDATION_ERROR", ""),
    ],
)
async def test_bad_calendar_requests_are_422s(
    nyse_client: httpx.AsyncClient, params: dict[str, str], code: str, wording: str
) -> None:
    response = await nyse_client.get("/api/v1/calendar", params=params)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code
    assert wording in str(error).lower()


@pytest.mark.ibkr
async def test_under_ibkr_the_same_calendar_answers(clean_database: str) -> None:
    settings = make_settings(clean_database, session=SessionSettings())
    async with (
        running_app(settings, "ibkr", clock=Clock(utc(11, 27, 18, 30))) as app,
        api_client(app, await make_key(app, "read")) as client,
    ):
        body = (await client.get("/api/v1/clock")).json()

    assert body["session"] == "after_hours"
    assert body["next_close"] == "2026-11-30T16:00:00-05:00"
