"""Shared fixtures: a migrated database per backend and run, an app on the simulated broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from stocks_api.auth import service as auth_service
from stocks_api.auth.security import ALL_SCOPES, Scope
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.core.config import (
    AuthSettings,
    DatabaseSettings,
    LogSettings,
    SessionSettings,
    Settings,
    SimSettings,
)
from stocks_api.core.migrations import upgrade
from stocks_api.main import create_app
from tests.databases import fresh_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# Children first, so deleting respects foreign keys on SQLite.
TABLES = (
    "risk_event",
    "risk_state",
    "account_snapshot",
    "position_snapshot",
    "position",
    "fill",
    "order_event",
    "order",
    "account",
    "api_key",
    "local_user",
)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database per backend for the whole run."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        yield url


async def _truncate(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{table}"' for table in TABLES)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY"))
        else:
            for table in TABLES:
                await conn.execute(text(f'DELETE FROM "{table}"'))
    await engine.dispose()


@pytest.fixture
async def clean_database(database_url: str) -> str:
    """The run's database, emptied before the test."""
    await _truncate(database_url)
    return database_url


# Tests trade at any hour: the regular session runs around the clock unless a test says not.
ALWAYS_OPEN = SessionSettings(timezone="UTC", open="00:00", close="24:00", days="mon-sun")


def make_settings(
    database_url: str, *, session: SessionSettings = ALWAYS_OPEN, **sim: Any
) -> Settings:
    return Settings(
        database=DatabaseSettings(url=database_url),
        sim=SimSettings(seed=7, **sim),
        session=session,
        log=LogSettings(level="WARNING"),
        # Tests make their own keys; the first-start key has its own test.
        auth=AuthSettings(bootstrap_admin_key=False),
    )


def manual_sim_broker(settings: Settings) -> SimBroker:
    """A simulated broker whose prices move only when a test calls `engine.tick()`."""
    return SimBroker(settings.sim, calendar=settings.session.calendar(), tick=False)


@pytest.fixture
def settings(clean_database: str) -> Settings:
    return make_settings(clean_database)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings, broker_factory=manual_sim_broker)
    async with application.router.lifespan_context(application):
        yield application


async def make_key(app: Any, *scopes: str, name: str = "test") -> str:
    """Create an API key with `scopes` (all three by default) in the app's database."""
    wanted = frozenset(Scope(s) for s in scopes) if scopes else ALL_SCOPES
    async with app.state.db.sessionmaker() as session:
        _, key = await auth_service.create_key(session=session, name=name, scopes=wanted)
    return key


def api_client(app: Any, key: str | None = None) -> httpx.AsyncClient:
    """An HTTP client of the app, sending `key` as X-API-Key when given."""
    headers = {"X-API-Key": key} if key else {}
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding an API key with every scope."""
    async with api_client(app, await make_key(app)) as http:
        yield http


@pytest.fixture
async def anonymous(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials."""
    async with api_client(app) as http:
        yield http


@pytest.fixture
def engine(app: Any) -> MatchingEngine:
    """The simulated broker's matching engine, to set quotes and move prices."""
    sim: SimBroker = app.state.broker
    return sim.engine


@pytest.fixture
def settle(app: Any) -> Any:
    """Wait until the consumer has applied every broker event produced so far."""

    async def wait() -> None:
        consumer = app.state.consumer
        assert await consumer.wait_applied(consumer.last_received, 5.0)

    return wait
