"""The market clock and the session calendar, as Alpaca offers them: `/clock`, `/calendar`.

Both answer from the configured session calendar (SESSION_*, the NYSE's by default), the
one the simulated market trades by and the portfolio's trading day ends on. Under
BROKER=ibkr they answer from the same calendar: it is ours, not IB's trading hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from stocks_api.core.calendar import SessionCalendar, TradingSession
from stocks_api.core.dependencies import CalendarDep, ClockDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.marketdata.clock_schemas import (
    DEFAULT_CALENDAR_DAYS,
    MAX_CALENDAR_DAYS,
    CalendarFilters,
    CalendarRead,
    ClockRead,
    MarketSession,
    SessionRead,
)
from stocks_api.marketdata.exceptions import CalendarRangeError

router = APIRouter(tags=["marketdata"], route_class=ExactJsonRoute)


def market_session(calendar: SessionCalendar, at: datetime) -> MarketSession:
    """Tell which session the market is in at `at`."""
    if calendar.is_regular_hours(at):
        return MarketSession.REGULAR
    if not calendar.is_extended_hours(at):
        return MarketSession.CLOSED
    hours = calendar.regular_hours_of(at.astimezone(calendar.zone).date())
    # Inside the extended window but not the regular session: before or after it.
    return (
        MarketSession.PRE_MARKET
        if hours is not None and at < hours[0]
        else MarketSession.AFTER_HOURS
    )


@router.get("/clock")
async def get_clock(calendar: CalendarDep, clock: ClockDep) -> ClockRead:
    """Tell whether the regular session is open now, the session now, the next open and close."""
    now = clock()
    zone = calendar.zone
    return ClockRead(
        timestamp=now.astimezone(zone),
        is_open=calendar.is_regular_hours(now),
        session=market_session(calendar, now),
        next_open=calendar.next_open(now).astimezone(zone),
        next_close=calendar.next_close(now).astimezone(zone),
        timezone=zone.key,
    )


@router.get("/calendar", responses={422: {"description": "bad dates, or a range too wide"}})
async def get_calendar(
    calendar: CalendarDep, clock: ClockDep, filters: Annotated[CalendarFilters, Query()]
) -> CalendarRead:
    """List the trading days from `start` to `end` (both included), with their sessions."""
    start = filters.start or clock().astimezone(calendar.zone).date()
    end = filters.end or start + timedelta(days=DEFAULT_CALENDAR_DAYS)
    if end < start:
        raise CalendarRangeError(f"end {end} is before start {start}")
    if (end - start).days > MAX_CALENDAR_DAYS:
        raise CalendarRangeError(
            f"{(end - start).days} days from start to end; at most {MAX_CALENDAR_DAYS}"
        )
    return CalendarRead(
        timezone=calendar.zone.key,
        sessions=[_session_read(s, calendar) for s in calendar.sessions(start, end)],
    )


def _session_read(session: TradingSession, calendar: SessionCalendar) -> SessionRead:
    zone = calendar.zone
    return SessionRead(
        date=session.date,
        open=session.open.astimezone(zone),
        close=session.close.astimezone(zone),
        extended_open=session.extended_open.astimezone(zone),
        extended_close=session.extended_close.astimezone(zone),
        early_close=session.early_close,
    )
