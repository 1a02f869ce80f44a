"""Several API instances on one database, each with a broker that records what reached it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from stocks_api.broker.protocol import EventSink, OrderChange, OrderRequest
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.main import create_app
from stocks_api.orders.models import Order, OrderEvent
from stocks_api.risk.models import RiskEvent
from stocks_api.settings import Settings
from tests.conftest import api_client, make_key, make_settings

# Short, so a standby takes over within a test's patience.
RETRY_SECONDS = 0.05
# Calls that send something to the broker or change what it works on.
SENDING_CALLS = frozenset(
    {"connect", "place_order", "place_bracket", "modify_order", "cancel_order"}
)


class RecordingBroker(SimBroker):
    """A manual simulated broker (prices move on `engine.tick()`) that lists its calls."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.sim, calendar=settings.session.calendar(), tick=False)
        self.calls: list[str] = []

    @property
    def sent(self) -> list[str]:
        """The calls that would have reached a real broker's connection."""
        return [call for call in self.calls if call in SENDING_CALLS]

    async def connect(self, sink: EventSink) -> None:
        self.calls.append("connect")
        await super().connect(sink)

    async def close(self) -> None:
        self.calls.append("close")
        await super().close()

    async def place_order(self, order: OrderRequest) -> str:
        self.calls.append("place_order")
        return await super().place_order(order)

    async def place_bracket(
        self, parent: OrderRequest, children: Sequence[OrderRequest]
    ) -> list[str]:
        self.calls.append("place_bracket")
        return await super().place_bracket(parent, children)

    async def modify_order(self, broker_order_id: str, change: OrderChange) -> None:
        self.calls.append("modify_order")
        await super().modify_order(broker_order_id, change)

    async def cancel_order(self, broker_order_id: str) -> None:
        self.calls.append("cancel_order")
        await super().cancel_order(broker_order_id)


def instance_settings(database_url: str) -> Settings:
    settings = make_settings(database_url)
    settings.broker_lock_retry_seconds = RETRY_SECONDS
    return settings


@dataclass
class Instance:
    """One running API instance: the app, an all-scope client, its recording broker."""

    app: FastAPI
    http: httpx.AsyncClient

    @property
    def broker(self) -> RecordingBroker:
        broker: RecordingBroker = self.app.state.broker
        return broker

    async def health(self) -> dict[str, Any]:
        response = await self.http.get("/health")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def role(self) -> str:
        return str((await self.health())["role"])


@asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[Instance]:
    """Start an API instance (its whole lifespan) on `settings`."""
    app = create_app(settings, broker_factory=RecordingBroker)
    async with app.router.lifespan_context(app), api_client(app, await make_key(app)) as http:
        yield Instance(app, http)


async def written(app: FastAPI) -> tuple[int, int, int]:
    """Rows in `order`, `order_event` and `risk_event`, read from the database itself."""
    async with app.state.db.sessionmaker() as session:
        return (
            await session.scalar(select(func.count()).select_from(Order)) or 0,
            await session.scalar(select(func.count()).select_from(OrderEvent)) or 0,
            await session.scalar(select(func.count()).select_from(RiskEvent)) or 0,
        )
