"""The read-only gate: on a standby instance only reads get through."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stocks_api.auth.dependencies import READ_METHODS
from stocks_api.connection.ownership import BrokerOwnership


async def get_ownership(request: Request) -> BrokerOwnership:
    ownership: BrokerOwnership = request.app.state.ownership
    return ownership


OwnershipDep = Annotated[BrokerOwnership, Depends(get_ownership)]


async def refuse_changes_on_standby(request: Request, ownership: OwnershipDep) -> None:
    """Refuse every change (503 `READ_ONLY_INSTANCE`) unless this instance owns the broker.

    `main` hangs the trading, risk-control and API-key routers below it, after
    authentication: placing, modifying and cancelling orders, closing positions, halting,
    resuming and changing limits all reach the broker or state the owner keeps in memory;
    creating and revoking keys is refused too, so that a standby changes nothing, as the
    README says. Running before the handler, it refuses before anything is written ahead.
    """
    if request.method not in READ_METHODS:
        ownership.check()
