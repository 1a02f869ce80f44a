"""`Annotated` dependency aliases of the kernel: the database session, the calendar, the clock.

Each domain has its own `dependencies.py` for its running parts (`broker`, `orders`, `risk`,
`connection`, `events`). Everything comes from `app.state`, built in the lifespan (`main`);
tests replace any of it with `app.dependency_overrides`. All are `async def`: FastAPI runs
plain `def` dependencies in a thread pool, which costs more than these one-liners.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.core.calendar import SessionCalendar
from stocks_api.core.database import Database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.sessionmaker() as session:
        yield session


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_calendar(request: Request) -> SessionCalendar:
    calendar: SessionCalendar = request.app.state.calendar
    return calendar


async def get_clock(request: Request) -> Callable[[], datetime]:
    # The app's idea of now (aware UTC): `create_app(clock=...)`, pinned by tests.
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
CalendarDep = Annotated[SessionCalendar, Depends(get_calendar)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
