"""Apps with chosen risk limits, and helpers to read the risk engine through the API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from stocks_api.broker.protocol import (
    BrokerClient,
    BrokerOrderStatus,
    BrokerRejectedError,
    EventSink,
    OrderRequest,
    OrderStatusUpdate,
)
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.main import create_app
from stocks_api.risk.schemas import LIMIT_NAMES
from stocks_api.risk.settings import RiskSettings
from stocks_api.settings import Settings
from tests.conftest import api_client, make_key, make_settings, manual_sim_broker

# Every check off: a test switches on the one it is about.
ALL_OFF: dict[str, Any] = {name: (() if name.endswith("symbols") else None) for name in LIMIT_NAMES}


def risk_settings(database_url: str, **limits: Any) -> Settings:
    """Settings whose only risk limits are `limits` (everything else off)."""
    settings = make_settings(database_url)
    settings.risk = RiskSettings(**(ALL_OFF | limits))
    return settings


@asynccontextmanager
async def running(
    settings: Settings,
    broker_factory: Callable[[Settings], BrokerClient] = manual_sim_broker,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Start an app on `settings` and give it with an all-scope client."""
    app = create_app(settings, broker_factory=broker_factory)
    async with app.router.lifespan_context(app), api_client(app, await make_key(app)) as http:
        yield app, http


@pytest.fixture
def with_limits(clean_database: str) -> Callable[..., Any]:
    """`async with with_limits(max_order_qty=10) as (app, http):` an app with those limits only."""

    def start(**limits: Any) -> Any:
        return running(risk_settings(clean_database, **limits))

    return start


def failed_checks(response: httpx.Response) -> list[str]:
    """The names of the checks a RISK_REJECTED answer lists."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "RISK_REJECTED", response.text
    return [detail["check"] for detail in error["details"]]


def rejections_counted(metrics_text: str, check: str) -> float:
    """The value of risk_rejections_total{check=...} in a /metrics page (0 when absent)."""
    match = re.search(rf'^risk_rejections_total{{check="{check}"}} (\S+)$', metrics_text, re.M)
    return float(match.group(1)) if match else 0.0


class RefusingSim(SimBroker):
    """The simulator, but `refuse` makes it reject new orders: at once, or later by event."""

    refuse: str | None = None  # None, "raise" (synchronous), "event" (asynchronous, like IB)

    async def connect(self, sink: EventSink) -> None:
        self._sink = sink
        await super().connect(sink)

    async def place_order(self, order: OrderRequest) -> str:
        if self.refuse == "raise":
            raise BrokerRejectedError("simulated rejection: no permissions")
        if self.refuse == "event":
            self._sink(
                OrderStatusUpdate(
                    client_order_id=order.client_order_id,
                    broker_order_id="",
                    status=BrokerOrderStatus.REJECTED,
                    filled_qty=Decimal(0),
                    remaining_qty=order.qty,
                    ts=datetime.now(UTC),
                    reason="simulated rejection: margin",
                )
            )
            return "pending"
        return await super().place_order(order)


def refusing_sim(settings: Settings) -> RefusingSim:
    return RefusingSim(settings.sim, calendar=settings.session.calendar(), tick=False)
