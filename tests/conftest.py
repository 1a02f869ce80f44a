"""Shared fixtures: a migrated database per backend and run, an app on a broker.

The app trades through the simulated broker in-process, or, where a directory's tests
run on both brokers (its conftest overrides `broker_kind` with `BROKERS`), also through
`IbkrBroker` speaking the TWS protocol to a gateway-sim over the same kind of engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from stocks_api.auth import service as auth_service
from stocks_api.auth.security import ALL_SCOPES, Scope
from stocks_api.auth.settings import AuthSettings
from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.broker.ib.settings import IbSettings
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.broker.sim.settings import SimSettings
from stocks_api.core.config import DatabaseSettings, LogSettings, SessionSettings
from stocks_api.core.database import utcnow
from stocks_api.core.migrations import upgrade
from stocks_api.main import build_broker, create_app
from stocks_api.settings import Settings
from tests.databases import fresh_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
BROKERS = ["sim", pytest.param("ibkr", marks=pytest.mark.ibkr)]
IB_CLIENT_ID = 11
# Children first, so deleting respects foreign keys on SQLite.
TABLES = (
    "broker_session",
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
    "auth_event",
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


# Tests trade at any hour: the regular session runs around the clock unless a test says not
# (no exchange table: no NYSE holidays or early closes either).
ALWAYS_OPEN = SessionSettings(
    timezone="UTC", open="00:00", close="24:00", days="mon-sun", exchange="none"
)


def make_settings(
    database_url: str, *, session: SessionSettings = ALWAYS_OPEN, **sim: Any
) -> Settings:
    return Settings(
        database=DatabaseSettings(url=database_url),
        # A flat market at the reference prices (AAPL 190.00, ...): prices tests can name.
        sim=SimSettings(**{"seed": 7, "volatility": 0, **sim}),
        session=session,
        log=LogSettings(level="WARNING"),
        # Tests make their own keys; the first-start key has its own test.
        auth=AuthSettings(bootstrap_admin_key=False),
    )


def manual_sim_broker(
    settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> SimBroker:
    """A simulated broker whose prices move only when a test calls `engine.tick()`."""
    return SimBroker(settings.sim, calendar=settings.session.calendar(), tick=False, clock=clock)


@asynccontextmanager
async def running_gateway(
    settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> AsyncIterator[GatewaySim]:
    """A gateway-sim on a spare loopback port whose engine is set up (and still) as `settings`'."""
    gateway = GatewaySim(
        settings.sim, port=0, calendar=settings.session.calendar(), tick=False, clock=clock
    )
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.close()


def on_gateway(settings: Settings, gateway: GatewaySim) -> Settings:
    """`settings` with BROKER=ibkr pointed at `gateway`."""
    ib = IbSettings(port=gateway.port, client_id=IB_CLIENT_ID, connect_timeout_seconds=5)
    return settings.model_copy(update={"broker": "ibkr", "ib": ib})


@asynccontextmanager
async def running_app(
    settings: Settings,
    broker_kind: str = "sim",
    *,
    clock: Callable[[], datetime] | None = None,
    gateway: GatewaySim | None = None,
) -> AsyncIterator[Any]:
    """The app, its lifespan running, on `broker_kind` ("sim" or "ibkr").

    For "ibkr" a gateway-sim is started here, unless `gateway` is given (a test that
    restarts the app keeps one gateway, as a real restart keeps IB Gateway).
    """
    async with AsyncExitStack() as stack:
        # The app's clock (/clock, an order's wait notice) is the market's.
        app_clock = clock or utcnow
        if broker_kind == "sim":
            app = create_app(
                settings, broker_factory=partial(manual_sim_broker, clock=clock), clock=app_clock
            )
        else:
            if gateway is None:
                gateway = await stack.enter_async_context(running_gateway(settings, clock=clock))
            app = create_app(
                on_gateway(settings, gateway), broker_factory=build_broker, clock=app_clock
            )
            app.state.gateway = gateway
        await stack.enter_async_context(app.router.lifespan_context(app))
        yield app


async def eventually(
    condition: Callable[[], Any], *, seconds: float = 5.0, what: str = "condition"
) -> None:
    """Wait until the (async or plain) `condition` holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{what} not met in {seconds} s"
        await asyncio.sleep(0.02)


def engine_of(app: Any) -> MatchingEngine:
    """The matching engine behind the app's broker: in-process, or inside its gateway-sim."""
    gateway: GatewaySim | None = getattr(app.state, "gateway", None)
    broker: SimBroker = app.state.broker if gateway is None else gateway.broker
    return broker.engine


async def settle_app(app: Any) -> None:
    """Wait until the app has applied every broker event produced so far.

    The broker round trip first: through IB, events travel a socket, and the gateway
    answers a request only after everything it sent before.
    """
    await app.state.broker.ping()
    consumer = app.state.consumer
    assert await consumer.wait_applied(consumer.last_received, 5.0)


@pytest.fixture
def broker_kind() -> str:
    """The broker the `app` fixture trades through; overridden with `BROKERS` where both run."""
    return "sim"


@pytest.fixture
def settings(clean_database: str) -> Settings:
    return make_settings(clean_database)


@pytest.fixture
async def app(settings: Settings, broker_kind: str) -> AsyncIterator[Any]:
    async with running_app(settings, broker_kind) as application:
        yield application


async def make_key(app: Any, *scopes: str, name: str = "test") -> str:
    """Create an API key with `scopes` (all three by default) in the app's database."""
    wanted = frozenset(Scope(s) for s in scopes) if scopes else ALL_SCOPES
    async with app.state.db.sessionmaker() as session:
        _, key = await auth_service.create_key(
            session=session, name=name, scopes=wanted, actor="test"
        )
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
    return engine_of(app)


@pytest.fixture
def settle(app: Any) -> Callable[[], Any]:
    """Wait until the app has applied every broker event produced so far."""
    return partial(settle_app, app)
