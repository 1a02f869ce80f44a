"""The broker as routers get it: the client, its accounts, the live-trading guard, the
timeout of a call (`BROKER_TIMEOUT_SECONDS`).

Everything comes from `app.state`, built in the lifespan (`main`); tests replace any of
it with `app.dependency_overrides`. All are `async def`: FastAPI runs plain `def`
dependencies in a thread pool, which costs more than these one-liners.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stocks_api.broker.guard import LiveTradingGuard
from stocks_api.broker.protocol import BrokerAccount, BrokerClient


async def get_broker(request: Request) -> BrokerClient:
    broker: BrokerClient = request.app.state.broker
    return broker


async def get_trading_account(request: Request) -> BrokerAccount | None:
    """The account orders trade in: the broker's first managed account."""
    accounts: list[BrokerAccount] = request.app.state.accounts
    return accounts[0] if accounts else None


async def get_accounts(request: Request) -> list[BrokerAccount]:
    accounts: list[BrokerAccount] = request.app.state.accounts
    return accounts


async def get_guard(request: Request) -> LiveTradingGuard:
    guard: LiveTradingGuard = request.app.state.guard
    return guard


async def get_broker_timeout(request: Request) -> float:
    """Seconds a broker call may take (`BROKER_TIMEOUT_SECONDS` of the app's settings)."""
    timeout: float = request.app.state.settings.broker_timeout_seconds
    return timeout


BrokerDep = Annotated[BrokerClient, Depends(get_broker)]
TradingAccountDep = Annotated[BrokerAccount | None, Depends(get_trading_account)]
AccountsDep = Annotated[list[BrokerAccount], Depends(get_accounts)]
GuardDep = Annotated[LiveTradingGuard, Depends(get_guard)]
BrokerTimeoutDep = Annotated[float, Depends(get_broker_timeout)]
