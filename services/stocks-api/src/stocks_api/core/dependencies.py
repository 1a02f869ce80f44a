"""`Annotated` dependency aliases used by routers: the one place that wires the app's parts.

All are `async def`: FastAPI runs plain `def` dependencies in a thread pool, which costs
more than these one-liners themselves.

Everything here comes from `app.state`, built in the lifespan; tests replace any of it
with `app.dependency_overrides`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from stocks_api.broker.protocol import BrokerAccount, BrokerClient
from stocks_api.connection.guard import LiveTradingGuard
from stocks_api.connection.ownership import BrokerOwnership
from stocks_api.core.calendar import SessionCalendar
from stocks_api.core.config import Settings
from stocks_api.core.database import Database
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.reconciliation import Reconciler
from stocks_api.risk.engine import RiskEngine
from stocks_api.streaming.bus import EventBus


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.sessionmaker() as session:
        yield session


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_broker(request: Request) -> BrokerClient:
    broker: BrokerClient = request.app.state.broker
    return broker


async def get_consumer(request: Request) -> BrokerEventConsumer:
    consumer: BrokerEventConsumer = request.app.state.consumer
    return consumer


async def get_calendar(request: Request) -> SessionCalendar:
    calendar: SessionCalendar = request.app.state.calendar
    return calendar


async def get_trading_account(request: Request) -> BrokerAccount | None:
    """The account orders trade in: the broker's first managed account."""
    accounts: list[BrokerAccount] = request.app.state.accounts
    return accounts[0] if accounts else None


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_guard(request: Request) -> LiveTradingGuard:
    guard: LiveTradingGuard = request.app.state.guard
    return guard


async def get_ownership(request: Request) -> BrokerOwnership:
    ownership: BrokerOwnership = request.app.state.ownership
    return ownership


async def get_risk(request: Request) -> RiskEngine:
    risk: RiskEngine = request.app.state.risk
    return risk


async def get_bus(request: Request) -> EventBus:
    bus: EventBus = request.app.state.bus
    return bus


async def get_reconciler(request: Request) -> Reconciler:
    reconciler: Reconciler = request.app.state.reconciler
    return reconciler


async def get_accounts(request: Request) -> list[BrokerAccount]:
    accounts: list[BrokerAccount] = request.app.state.accounts
    return accounts


DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
BrokerDep = Annotated[BrokerClient, Depends(get_broker)]
ConsumerDep = Annotated[BrokerEventConsumer, Depends(get_consumer)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TradingAccountDep = Annotated[BrokerAccount | None, Depends(get_trading_account)]
CalendarDep = Annotated[SessionCalendar, Depends(get_calendar)]
GuardDep = Annotated[LiveTradingGuard, Depends(get_guard)]
OwnershipDep = Annotated[BrokerOwnership, Depends(get_ownership)]
AccountsDep = Annotated[list[BrokerAccount], Depends(get_accounts)]
RiskDep = Annotated[RiskEngine, Depends(get_risk)]
BusDep = Annotated[EventBus, Depends(get_bus)]
ReconcilerDep = Annotated[Reconciler, Depends(get_reconciler)]
