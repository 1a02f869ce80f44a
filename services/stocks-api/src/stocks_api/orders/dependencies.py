"""The order domain's running parts as routers get them: the consumer, the reconciler, and
the `TradingContext` every order operation takes.

Everything comes from `app.state`, built in the lifespan (`main`); tests replace any of
it with `app.dependency_overrides`. All are `async def`: FastAPI runs plain `def`
dependencies in a thread pool, which costs more than these one-liners.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stocks_api.broker.dependencies import (
    get_broker,
    get_broker_timeout,
    get_guard,
    get_trading_account,
)
from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.context import TradingContext
from stocks_api.orders.reconciliation import Reconciler
from stocks_api.orders.write_ahead import WriteAhead
from stocks_api.risk.dependencies import get_risk


async def get_consumer(request: Request) -> BrokerEventConsumer:
    consumer: BrokerEventConsumer = request.app.state.consumer
    return consumer


async def get_reconciler(request: Request) -> Reconciler:
    reconciler: Reconciler = request.app.state.reconciler
    return reconciler


ConsumerDep = Annotated[BrokerEventConsumer, Depends(get_consumer)]
ReconcilerDep = Annotated[Reconciler, Depends(get_reconciler)]


async def get_write_ahead(request: Request) -> WriteAhead:
    write_ahead: WriteAhead = request.app.state.write_ahead
    return write_ahead


WriteAheadDep = Annotated[WriteAhead, Depends(get_write_ahead)]


async def get_trading_context(request: Request) -> TradingContext:
    """Everything an order operation works with, in one dependency.

    The parts' own dependency functions, called here rather than declared: FastAPI
    resolves every declared dependency of every order request, and these are plain reads
    of `app.state` (a test that needs another part replaces this one).
    """
    return TradingContext(
        broker=await get_broker(request),
        consumer=await get_consumer(request),
        guard=await get_guard(request),
        risk=await get_risk(request),
        account=await get_trading_account(request),
        timeout=await get_broker_timeout(request),
        write_ahead=await get_write_ahead(request),
    )


TradingDep = Annotated[TradingContext, Depends(get_trading_context)]
