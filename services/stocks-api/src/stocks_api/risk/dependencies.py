"""The risk engine as routers get it.

Everything comes from `app.state`, built in the lifespan (`main`); tests replace any of
it with `app.dependency_overrides`. All are `async def`: FastAPI runs plain `def`
dependencies in a thread pool, which costs more than these one-liners.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stocks_api.risk.engine import RiskEngine


async def get_risk(request: Request) -> RiskEngine:
    risk: RiskEngine = request.app.state.risk
    return risk


RiskDep = Annotated[RiskEngine, Depends(get_risk)]
