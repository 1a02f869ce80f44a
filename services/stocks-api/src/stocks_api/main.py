"""The application factory and its lifespan: database, bus, broker, consumer, auth."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path

import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware.gzip import GZipMiddleware

from stocks_api.auth import service as auth_service
from stocks_api.auth.dependencies import authorize_by_method, require
from stocks_api.auth.ratelimit import SignInLimiter
from stocks_api.auth.router import events_router, keys_router, token_router
from stocks_api.auth.secret_file import secret_path
from stocks_api.auth.security import Scope, dummy_password_hash
from stocks_api.auth.service import Authenticator
from stocks_api.broker.guard import LiveTradingGuard
from stocks_api.broker.protocol import (
    BrokerAccount,
    BrokerClient,
    BrokerUnavailableError,
    LinkEvent,
    LinkState,
)
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.connection.dependencies import refuse_changes_on_standby
from stocks_api.connection.link import LINK_TOPIC, link_status
from stocks_api.connection.models import DisconnectReason
from stocks_api.connection.ownership import BrokerOwnership, open_lock
from stocks_api.connection.router import router as broker_router
from stocks_api.connection.sessions import BrokerSessionLog, this_instance
from stocks_api.core import metrics
from stocks_api.core.command_line import cli_command
from stocks_api.core.config import Environment
from stocks_api.core.database import Database, utcnow
from stocks_api.core.handlers import install_exception_handlers
from stocks_api.core.hygiene import install_hygiene
from stocks_api.core.installation import SIM_SEED, installation_value, random_seed
from stocks_api.core.logging import configure_logging
from stocks_api.core.middleware import RequestContextMiddleware
from stocks_api.core.openapi import error_responses, install_openapi
from stocks_api.docs import install_docs
from stocks_api.events.bus import EventBus, InProcessEventBus
from stocks_api.events.redis_bus import RedisEventBus
from stocks_api.health.router import router as health_router
from stocks_api.marketdata.clock_router import router as clock_router
from stocks_api.marketdata.feed import QuoteFeed
from stocks_api.marketdata.router import router as marketdata_router
from stocks_api.orders.cancel_intents import CancelIntents
from stocks_api.orders.closing import router as closing_router
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.kill_switch import admin_router as kill_switch_router
from stocks_api.orders.open_orders import open_orders_query
from stocks_api.orders.reconciliation import Reconciler
from stocks_api.orders.router import fills_router
from stocks_api.orders.router import router as orders_router
from stocks_api.orders.write_ahead import WriteAhead
from stocks_api.portfolio import accounts as account_service
from stocks_api.portfolio.accounts import AccountState
from stocks_api.portfolio.accounts_router import router as accounts_router
from stocks_api.portfolio.live_marks import LivePositionMarks
from stocks_api.portfolio.positions_router import router as positions_router
from stocks_api.portfolio.snapshots import SnapshotRecorder
from stocks_api.risk import gate as risk_gate
from stocks_api.risk import service as risk_service
from stocks_api.risk.engine import RiskEngine
from stocks_api.risk.router import admin_router as risk_admin_router
from stocks_api.risk.router import router as risk_router
from stocks_api.risk.schemas import RiskLimits
from stocks_api.settings import Settings, get_settings
from stocks_api.streaming.hub import StreamHub
from stocks_api.streaming.router import router as streaming_router
from stocks_api.webui import install_ui

log = structlog.get_logger(__name__)

API_PREFIX = "/api/v1"
GZIP_MINIMUM_BYTES = 1024  # smaller bodies gain little from gzip and cost a compression


def _operation_id(route: APIRoute) -> str:
    # Stable OpenAPI operation names ("orders-place_order") for generated clients.
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def build_broker(settings: Settings) -> BrokerClient:
    """Return the broker named by `BROKER` (the default `broker_factory` of `create_app`)."""
    if settings.broker == "sim":
        return SimBroker(settings.sim, calendar=settings.session.calendar())
    if settings.broker == "ibkr":
        # Imported here: only this broker needs ib_async loaded.
        from stocks_api.broker.ib.broker import IbkrBroker

        return IbkrBroker(settings.ib, timeout=settings.broker_timeout_seconds)
    raise ValueError(f"unsupported BROKER {settings.broker!r}")  # pragma: no cover


async def with_installation_seed(settings: Settings, db: Database) -> Settings:
    """Settings whose simulated market has a seed: `SIM_SEED`, or, unset, the one chosen
    at random for this installation at its first start and kept in its database, so two
    installations do not trade the same path and a restart continues its own."""
    if settings.sim.seed is not None:
        return settings
    seed = int(await installation_value(db.sessionmaker, SIM_SEED, random_seed))
    return settings.model_copy(update={"sim": settings.sim.model_copy(update={"seed": seed})})


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the app's parts on start, tear them down (in reverse) on stop.

    Only the instance that owns the broker connection (see `connection.ownership`)
    connects the broker and trades; another on the same database starts read-only and
    takes over when the owner goes away.
    """
    settings: Settings = app.state.settings
    timeout = settings.broker_timeout_seconds
    db = Database(settings.database)
    bus: EventBus = RedisEventBus(settings.redis_url) if settings.redis_url else InProcessEventBus()
    await bus.start()
    consumer = BrokerEventConsumer(sessionmaker=db.sessionmaker, bus=bus)
    settings = app.state.settings = await with_installation_seed(settings, db)
    broker: BrokerClient = app.state.broker_factory(settings)
    calendar = settings.session.calendar()
    snapshots = SnapshotRecorder(
        sessionmaker=db.sessionmaker,
        broker=broker,
        bus=bus,
        calendar=calendar,
        interval=settings.portfolio.snapshot_interval_seconds,
        timeout=timeout,
    )
    app.state.db, app.state.bus, app.state.consumer, app.state.broker = db, bus, consumer, broker
    risk = RiskEngine(
        sessionmaker=db.sessionmaker,
        bus=bus,
        defaults=RiskLimits.model_validate(settings.risk.model_dump()),
        calendar=calendar,
        open_orders=open_orders_query,
    )
    app.state.calendar, app.state.snapshots, app.state.risk = calendar, snapshots, risk
    app.state.write_ahead = WriteAhead(db.sessionmaker)
    app.state.reconciler = Reconciler(
        sessionmaker=db.sessionmaker,
        broker=broker,
        consumer=consumer,
        timeout=timeout,
        interval=settings.reconcile_interval_seconds,
        grace=settings.reconcile_grace_seconds,
    )
    app.state.cancel_intents = cancel_intents = CancelIntents(
        sessionmaker=db.sessionmaker, broker=broker, consumer=consumer, timeout=timeout
    )
    app.state.connecting = None  # connecting a broker that was unreachable at start
    # The trading-session audit trail: one row per broker connection, by its owner.
    app.state.session_log = session_log = BrokerSessionLog(
        sessionmaker=db.sessionmaker, instance=this_instance()
    )
    consumer.on_fills(session_log.note_fills)
    consumer.on_sent(session_log.note_orders_sent)
    consumer.on_sent(metrics.BROKER_ORDERS_SENT.inc)  # whichever broker: counted here, once
    consumer.on_fills(snapshots.notify_fills)
    consumer.on_verdicts(partial(_note_verdicts, risk))
    consumer.book = risk.book
    consumer.on_link(partial(_on_link, app))
    consumer.on_cancel_intents(cancel_intents.send_soon)
    snapshots.on_valuation(partial(_watch_daily_loss, app))
    consumer.start()
    await risk_service.ensure_state(risk)
    app.state.authenticator = Authenticator(
        sessionmaker=db.sessionmaker,
        settings=settings.auth,
        secret_file=secret_path(settings.database.url),
    )
    app.state.sign_in_limiter = SignInLimiter(
        per_address=settings.auth.token_rate_limit,
        per_username=settings.auth.username_rate_limit,
        redis_url=settings.redis_url,
    )
    # Made once per process, now: the first sign-in of an unknown user must not pay for it.
    await asyncio.to_thread(dummy_password_hash)
    async with db.sessionmaker() as session:
        await _announce_first_key(session, settings)
    quote_feed = QuoteFeed(
        broker=broker, bus=bus, interval=settings.stream.quote_interval_seconds, timeout=timeout
    )
    app.state.quote_feed, app.state.hub = quote_feed, StreamHub(bus, quote_feed)
    app.state.position_marks = position_marks = LivePositionMarks(
        sessionmaker=db.sessionmaker,
        feed=quote_feed,
        bus=bus,
        spacing=settings.stream.position_interval_seconds,
    )
    consumer.on_positions(position_marks.booked)
    ownership = BrokerOwnership(
        open_lock(settings.database, timeout=timeout),
        interval=settings.broker_lock_retry_seconds,
    )
    app.state.ownership = ownership
    if not await ownership.acquire(promote=partial(_start_trading, app)):
        await _start_read_only(app)
    ownership.watch(promote=partial(_start_trading, app), demote=partial(_stop_trading, app))
    log.info(
        "started",
        broker=broker.kind,
        role=ownership.role.value,
        database=db.engine.url.render_as_string(),
    )
    try:
        yield
    finally:
        await ownership.stop()  # nothing is promoted while the rest shuts down
        await _stop_connecting(app)
        await app.state.reconciler.stop()
        await snapshots.stop()
        await position_marks.stop()
        await app.state.hub.close()
        await quote_feed.close()
        await cancel_intents.stop()
        await broker.close()
        await consumer.stop()
        await session_log.closed(reason=DisconnectReason.SHUTDOWN, at=utcnow())
        await session_log.stop()
        # Only once the broker is closed: the next owner may connect right away.
        await ownership.release()
        await app.state.sign_in_limiter.close()
        await bus.close()
        await db.dispose()
        log.info("stopped")


async def _start_trading(app: FastAPI) -> None:
    """Connect the broker and take up trading: accounts, guard, reconciliation, snapshots.

    The owner runs this at start-up; a standby runs it when it takes the broker over.
    """
    state = app.state
    started = utcnow()
    try:
        await state.broker.connect(state.consumer.sink)
    except BrokerUnavailableError as exc:
        # IB Gateway is not there (yet): serve reads, refuse orders (503), keep trying.
        log.warning("broker_unreachable_at_start", error=str(exc))
        await _start_read_only(app)
        state.connecting = asyncio.create_task(_connect_later(app, started), name="connect")
        return
    await _take_up_trading(app, started)


async def _connect_later(app: FastAPI, started: datetime) -> None:
    """Connect the broker that could not be reached at start, with backoff and jitter."""
    delay = 0.5
    while True:
        await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311
        try:
            await app.state.broker.connect(app.state.consumer.sink)
        except BrokerUnavailableError as exc:
            log.warning("broker_connect_failed", error=str(exc), retry_seconds=delay)
            delay = min(delay * 2, app.state.settings.ib.reconnect_max_seconds)
            continue
        await _take_up_trading(app, started)
        return


async def _take_up_trading(app: FastAPI, started: datetime) -> None:
    state = app.state
    timeout = state.settings.broker_timeout_seconds
    async with state.db.sessionmaker() as session:
        # Accounts first: fills replayed by reconciliation book against them.
        accounts = await account_service.sync_accounts(
            session=session, broker=state.broker, timeout=timeout
        )
        _assess_accounts(app, accounts)
    # What admission reads, from the database as the previous owner (or run) left it.
    await risk_service.ensure_state(state.risk, announce=False)
    await risk_gate.load(state.risk)
    # Every order written before this start is judged: none of them is on its way.
    try:
        await state.reconciler.run("start", before=started)
    except Exception as exc:  # the broker slow to answer: the loop tries again at once
        log.warning("reconcile_at_start_failed", error=str(exc))
        state.reconciler.request("start", before=started)
    state.reconciler.start()
    state.session_log.start()
    state.snapshots.start()
    await state.position_marks.start()


async def _stop_connecting(app: FastAPI) -> None:
    task, app.state.connecting = app.state.connecting, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _stop_trading(app: FastAPI) -> None:
    """Give the broker up (the lock is lost): no snapshots from broker data, no connection."""
    await _stop_connecting(app)
    risk_gate.unload(app.state.risk)
    await app.state.reconciler.stop()
    await app.state.snapshots.stop()
    await app.state.position_marks.stop()
    await app.state.broker.close()
    await app.state.session_log.closed(reason=DisconnectReason.TAKEOVER, at=utcnow())
    await app.state.session_log.stop()


async def _start_read_only(app: FastAPI) -> None:
    """Serve reads without the broker: accounts as stored by the owner, guard judged on them."""
    async with app.state.db.sessionmaker() as session:
        accounts = await account_service.stored_accounts(session)
    _assess_accounts(app, accounts)


def _assess_accounts(app: FastAPI, accounts: list[BrokerAccount]) -> None:
    """Keep the accounts orders trade in, and judge whether they are live."""
    settings: Settings = app.state.settings
    app.state.accounts = accounts
    app.state.guard = guard = LiveTradingGuard.assess(
        accounts=accounts,
        info=app.state.broker.connection_info(),
        allow_live=settings.allow_live_trading,
    )
    if guard.is_live:
        log.warning(
            "live_broker",
            reasons=list(guard.live_reasons),
            trading_allowed=settings.allow_live_trading,
        )


async def _on_link(app: FastAPI, event: LinkEvent) -> None:
    """The broker link changed: tell the stream, and reconcile once it is back."""
    state = app.state
    log.info(
        "broker_link",
        state=event.state.value,
        reason=event.reason,
        reconnect=event.reconnect,
        restored=event.restored,
    )
    await _record_session(app, event)
    await state.bus.publish(LINK_TOPIC, link_status(state.broker, reason=event.reason))
    if event.state is LinkState.CONNECTED and (event.reconnect or event.restored):
        # Orders last changed before the link was back are judged: anything sent until
        # then has either reached the broker (and is in its replay, or in its list of open
        # orders asked for after this) or was lost; those still on their way are skipped.
        trigger = "restored" if event.restored else "reconnect"
        state.reconciler.request(trigger, before=event.ts)
        await state.cancel_intents.link_back()


async def _record_session(app: FastAPI, event: LinkEvent) -> None:
    """Keep the trading-session audit trail: a row per connection, IB's outages in it."""
    log_: BrokerSessionLog = app.state.session_log
    if event.state is LinkState.DISCONNECTED:
        await log_.closed(reason=DisconnectReason.SOCKET_DROP, at=event.ts)
    elif event.state is LinkState.IB_UNREACHABLE:
        await log_.ib_unreachable(at=event.ts)
    elif event.restored:
        await log_.ib_restored(at=event.ts, data_lost=event.data_lost)
    else:
        info = app.state.broker.connection_info()
        await log_.opened(
            kind=info.kind,
            host=info.host,
            port=info.port,
            server_version=event.server_version or info.server_version,
            account_id=event.account_id,
            at=event.ts,
        )


async def _note_verdicts(risk: RiskEngine, verdicts: list[bool]) -> None:
    await risk_service.note_broker_verdicts(engine=risk, verdicts=verdicts)


async def _watch_daily_loss(app: FastAPI, states: list[AccountState]) -> None:
    accounts: list[BrokerAccount] = app.state.accounts
    await risk_service.watch_daily_loss(
        engine=app.state.risk,
        account_id=accounts[0].account_id if accounts else None,
        states=states,
    )


async def _announce_first_key(session: AsyncSession, settings: Settings) -> None:
    """In development, make the first admin key on the very first start and show it once."""
    if settings.environment is not Environment.DEVELOPMENT or not settings.auth.bootstrap_admin_key:
        return
    key = await auth_service.bootstrap_admin_key(session=session)
    if key is None:
        return
    # Printed, not logged: logs are kept and shipped; this is for the person at the terminal,
    # with commands that run from where they are (`make run` puts no stocks-api on PATH).
    command = cli_command()
    print(
        "\n  First start: an admin API key was created (read, trade, admin). It is shown"
        "\n  only this once and stored only as a hash; keep it somewhere safe:\n"
        f"\n      X-API-Key: {key}\n"
        f"\n  More keys: {command} create-api-key --name NAME --scopes read,trade"
        f"\n  The dashboard's password: {command} set-password\n",
        file=sys.stderr,
        flush=True,
    )


def create_app(
    settings: Settings | None = None,
    *,
    broker_factory: Callable[[Settings], BrokerClient] = build_broker,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """Build the FastAPI application for `settings` (read from the environment if None).

    `clock` is what the routes that depend on the time of day (`/clock`, an order's wait
    notice) take as now; tests pin it.
    """
    settings = settings or get_settings()
    configure_logging(settings.log)
    app = FastAPI(
        title="stocks API",
        version="0.1.0",
        summary="A local trading API in front of Interactive Brokers",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served by `install_docs`, from installed files instead of a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.broker_factory = broker_factory
    app.state.clock = clock
    install_exception_handlers(app)
    install_hygiene(app, settings.api)
    # Bodies above a kilobyte go gzipped to a client that accepts it (the dashboard's script
    # bundle, order lists); an order's own answer is smaller and is sent as it is.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES)
    # Added last, so outermost: every response, errors included, carries the request id.
    app.add_middleware(RequestContextMiddleware)

    # Every /api/v1 route hangs below one of these routers, whose dependency authorizes it:
    # `read` for GETs and `trade` for changes, or `admin`. Only signing in is public.
    # Then, on a read-only standby, every change (orders, positions, the risk controls,
    # API keys) is refused here, in one place, before any handler runs. Keys too, as the
    # README's standby section says: a standby changes nothing (the CLI's create-api-key
    # and revoke-api-key work on any database). Signing in is no change: it works anywhere.
    read_only_gate = Depends(refuse_changes_on_standby)
    api = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Depends(authorize_by_method), read_only_gate],
        responses=error_responses(401, 403, 503),
    )
    for router in (
        orders_router,
        fills_router,
        positions_router,
        closing_router,
        accounts_router,
        marketdata_router,
        clock_router,
        broker_router,
        risk_router,
    ):
        api.include_router(router)
    admin_api = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Depends(require(Scope.ADMIN))],
        responses=error_responses(401, 403, 503),
    )
    admin_api.include_router(keys_router, dependencies=[read_only_gate])
    admin_api.include_router(events_router)
    admin_api.include_router(risk_admin_router, dependencies=[read_only_gate])
    admin_api.include_router(kill_switch_router, dependencies=[read_only_gate])
    public_api = APIRouter(prefix=API_PREFIX)
    public_api.include_router(token_router)
    # The stream authenticates itself: a WebSocket answers with close codes, not 401s.
    public_api.include_router(streaming_router)
    for router in (api, admin_api, public_api, health_router):
        app.include_router(router)
    install_docs(app)
    install_ui(app, Path(settings.api.ui_dir) if settings.api.ui_dir else None)
    install_openapi(app)
    return app
