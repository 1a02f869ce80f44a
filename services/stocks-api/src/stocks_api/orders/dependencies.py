"""The order domain's running parts as routers get them: the consumer, the reconciler.

Everything comes from `app.state`, built in the lifespan (`main`); tests replace any of
it with `app.dependency_overrides`. All are `async def`: FastAPI runs plain `def`
dependencies in a thread pool, which costs more than these one-liners.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stocks_api.orders.consumer import BrokerEventConsumer
from stocks_api.orders.reconciliation import Reconciler


async def get_consumer(request: Request) -> BrokerEventConsumer:
    consumer: BrokerEventConsumer = request.app.state.consumer
    return consumer


async def get_reconciler(request: Request) -> Reconciler:
    reconciler: Reconciler = request.app.state.reconciler
    return reconciler


ConsumerDep = Annotated[BrokerEventConsumer, Depends(get_consumer)]
ReconcilerDep = Annotated[Reconciler, Depends(get_reconciler)]
