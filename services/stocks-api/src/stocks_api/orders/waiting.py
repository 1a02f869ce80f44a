"""An order that cannot work now says so: the notice of its placing, and its audit entry.

The rule is the simulated market's: an order works in the regular session, or, when
`outside_rth`, within the extended hours (pre-market and after hours). Placed outside
those, it waits for the next one. Computed here, from the configured session calendar,
so it reads the same on both brokers (under IBKR it is our calendar's word, not IB's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.core.calendar import WEEKDAYS, SessionCalendar
from stocks_api.orders.audit import record_event
from stocks_api.orders.models import Order
from stocks_api.orders.state import OPEN, OrderStatus

WAITING_EVENT = "waiting_for_session"
# Statuses of an order still on its way to working (not final, no cancel asked).
_WAITING_STATUSES = OPEN - {OrderStatus.PENDING_CANCEL}


@dataclass(frozen=True, slots=True)
class Wait:
    """Until when an order placed now waits, and for which session."""

    session: str  # "regular" or "extended"
    until: datetime  # UTC
    notice: str


def wait_of(calendar: SessionCalendar, *, outside_rth: bool, at: datetime) -> Wait | None:
    """Tell how long an order placed at `at` waits before it can work; None if it works now."""
    if calendar.is_regular_hours(at) or (outside_rth and calendar.is_extended_hours(at)):
        return None
    if outside_rth:
        session, until, what = "extended", calendar.next_extended_open(at), "the extended hours"
    else:
        session, until, what = "regular", calendar.next_open(at), "the regular session"
    local = until.astimezone(calendar.zone)
    # Day names by hand: strftime's %a follows the process locale.
    weekday = WEEKDAYS[local.weekday()].capitalize()
    notice = f"waits for {what} at {local:%H:%M} {calendar.zone.key} ({weekday} {local:%Y-%m-%d})"
    return Wait(session=session, until=until, notice=notice)


def order_wait(order: Order, *, calendar: SessionCalendar, at: datetime) -> Wait | None:
    """Tell whether `order`, just placed at `at`, waits; None if it works (or is done).

    An order already final (filled, rejected, cancelled) or being cancelled waits for
    nothing, whatever the hour.
    """
    if OrderStatus(order.status) not in _WAITING_STATUSES:
        return None
    return wait_of(calendar, outside_rth=order.outside_rth, at=at)


async def note_waiting(
    session: AsyncSession,
    order: Order,
    *,
    calendar: SessionCalendar,
    at: datetime,
    record: bool = True,
) -> str | None:
    """Record in `order`'s audit trail that it waits, if it does; return the notice.

    `record=False` (a replay of an earlier placing, already recorded) only tells.
    """
    wait = order_wait(order, calendar=calendar, at=at)
    if wait is None or not record:
        return None if wait is None else wait.notice
    record_event(
        session,
        order,
        WAITING_EVENT,
        reason=wait.notice,
        payload={"session": wait.session, "until": wait.until.isoformat()},
    )
    await session.commit()
    return wait.notice
