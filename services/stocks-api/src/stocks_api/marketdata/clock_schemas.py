"""Schemas of the market clock and the session calendar (`GET /api/v1/clock`, `/calendar`).

Times are ISO 8601 with the offset of the calendar's zone ("2026-12-03T09:30:00-05:00"),
as Alpaca writes them: the local time of day is readable and the instant exact.
"""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from stocks_api.core.schemas import ApiModel, RequestModel

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _iso_date_text(value: Any) -> Any:
    # pydantic would also read "0" or "1700000000" as a Unix time's date.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_iso_8601", "must be a date in ISO 8601: YYYY-MM-DD")
    return value


# A date in a query string (`start`, `end` of /calendar): YYYY-MM-DD only.
QueryDate = Annotated[date, BeforeValidator(_iso_date_text)]

# The widest range GET /calendar answers: a year and a few days.
MAX_CALENDAR_DAYS = 370
# The range when `end` is not given.
DEFAULT_CALENDAR_DAYS = 30


class MarketSession(enum.StrEnum):
    """Which session the market is in at an instant."""

    REGULAR = "regular"
    PRE_MARKET = "pre_market"
    AFTER_HOURS = "after_hours"
    CLOSED = "closed"


class ClockRead(ApiModel):
    """The market clock: is the regular session open now, and when it opens and closes next."""

    timestamp: datetime = Field(description="now, in the calendar's zone")
    is_open: bool = Field(description="the regular session is open now")
    session: MarketSession = Field(
        description="regular, pre_market or after_hours (outside_rth orders work), or closed"
    )
    next_open: datetime = Field(description="the next regular open (the next day's when open)")
    next_close: datetime = Field(description="the next regular close (early closes respected)")
    timezone: str = Field(
        description="the calendar's IANA time zone", examples=["America/New_York"]
    )


class SessionRead(ApiModel):
    """One trading day of the calendar."""

    date: date
    open: datetime = Field(description="the regular open")
    close: datetime = Field(description="the regular close (13:00 New York on an early close)")
    extended_open: datetime = Field(description="the pre-market open")
    extended_close: datetime = Field(description="the after-hours close")
    early_close: bool = Field(description="the regular session closes early this day")


class CalendarRead(ApiModel):
    """The trading days between two dates, both included; holidays and weekends are absent."""

    timezone: str = Field(examples=["America/New_York"])
    sessions: list[SessionRead]


class CalendarFilters(RequestModel):
    """Query parameters of `GET /api/v1/calendar`."""

    start: QueryDate | None = Field(
        default=None, description="the first date (YYYY-MM-DD; default today in the zone)"
    )
    end: QueryDate | None = Field(
        default=None,
        description=f"the last date (YYYY-MM-DD; default start + {DEFAULT_CALENDAR_DAYS} days);"
        f" at most {MAX_CALENDAR_DAYS} days after start",
    )
