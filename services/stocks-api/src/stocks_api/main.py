"""The application factory and its lifespan: database, event bus, broker, consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from stocks_api.accounts import service as account_service
from stocks_api.accounts.router import router as accounts_router
from stocks_api.accounts.snapshots import SnapshotRecorder
from stocks_api.broker.factory import build_broker
from stocks_api.broker.protocol import BrokerClient
from stocks_api.core.config import Settings, get_settings
from stocks_api.core.database import Database
from stocks_api.core.dependencies import current_principal
from stocks_api.core.handlers import install_exception_handlers
from stocks_api.core.logging import configure_logging
from stocks_api.core.middleware import RequestContextMiddleware
from stocks_api.health.router import router as health_router
from stocks_api.marketdata.router import router as marketdata_router
from stocks_api.orders import service as order_service
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.router import fills_router
from stocks_api.orders.router import router as orders_router
from stocks_api.positions.router import router as positions_router
from stocks_api.streaming.bus import InProcessEventBus

log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    # Stable OpenAPI operation names ("orders-place_order") for generated clients.
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the app's parts on start, tear them down (in reverse) on stop."""
    settings: Settings = app.state.settings
    timeout = settings.broker_timeout_seconds
    db = Database(settings.database)
    bus = InProcessEventBus()
    consumer = BrokerEventConsumer(sessionmaker=db.sessionmaker, bus=bus)
    broker: BrokerClient = app.state.broker_factory(settings)
    calendar = settings.session.calendar()
    snapshots = SnapshotRecorder(
        sessionmaker=db.sessionmaker,
        broker=broker,
        calendar=calendar,
        interval=settings.portfolio.snapshot_interval_seconds,
        timeout=timeout,
    )
    app.state.db, app.state.bus, app.state.consumer, app.state.broker = db, bus, consumer, broker
    app.state.calendar, app.state.snapshots = calendar, snapshots
    consumer.on_fills(snapshots.notify_fills)
    consumer.start()
    await broker.connect(consumer.sink)
    async with db.sessionmaker() as session:
        # Accounts first: fills replayed by reconciliation book against them.
        app.state.accounts = await account_service.sync_accounts(
            session=session, broker=broker, timeout=timeout
        )
        await order_service.reconcile_open_orders(
            session=session, broker=broker, consumer=consumer, timeout=timeout
        )
    snapshots.start()
    log.info("started", broker=broker.kind, database=db.engine.url.render_as_string())
    try:
        yield
    finally:
        await snapshots.stop()
        await broker.close()
        await consumer.stop()
        await db.dispose()
        log.info("stopped")


def create_app(
    settings: Settings | None = None,
    *,
    broker_factory: Callable[[Settings], BrokerClient] = build_broker,
) -> FastAPI:
    """Build the FastAPI application for `settings` (read from the environment if None)."""
    settings = settings or get_settings()
    configure_logging(settings.log)
    app = FastAPI(
        title="stocks API",
        version="0.1.0",
        summary="A local trading API in front of Interactive Brokers",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.broker_factory = broker_factory
    install_exception_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    # Every /api/v1 route hangs below this router, so authentication plugs in here once.
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_principal)])
    api.include_router(orders_router)
    api.include_router(fills_router)
    api.include_router(positions_router)
    api.include_router(accounts_router)
    api.include_router(marketdata_router)
    app.include_router(api)
    app.include_router(health_router)
    return app
