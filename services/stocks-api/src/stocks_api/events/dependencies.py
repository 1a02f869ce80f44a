"""The event bus as routers get it.

Everything comes from `app.state`, built in the lifespan (`main`); tests replace any of
it with `app.dependency_overrides`. All are `async def`: FastAPI runs plain `def`
dependencies in a thread pool, which costs more than these one-liners.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stocks_api.events.bus import EventBus


async def get_bus(request: Request) -> EventBus:
    bus: EventBus = request.app.state.bus
    return bus


BusDep = Annotated[EventBus, Depends(get_bus)]
