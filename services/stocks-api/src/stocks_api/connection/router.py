"""REST route of the broker connection."""

from __future__ import annotations

from fastapi import APIRouter

from stocks_api.accounts.schemas import AccountRead
from stocks_api.connection.schemas import BrokerOwnerRead, BrokerStatus
from stocks_api.core.dependencies import AccountsDep, BrokerDep, GuardDep, OwnershipDep

router = APIRouter(prefix="/broker", tags=["broker"])


@router.get("")
async def get_broker(
    broker: BrokerDep, guard: GuardDep, accounts: AccountsDep, ownership: OwnershipDep
) -> BrokerStatus:
    """Show the broker: kind, connection, endpoint, paper or live, accounts, owner."""
    info = broker.connection_info()
    owner = ownership.owner
    return BrokerStatus(
        kind=info.kind,
        connected=broker.is_connected,
        host=info.host,
        port=info.port,
        server_version=info.server_version,
        mode="live" if guard.is_live else "paper",
        live_reasons=list(guard.live_reasons),
        live_trading_allowed=guard.allow_live,
        accounts=[AccountRead.model_validate(a) for a in accounts],
        connected_at=info.connected_at,
        last_reconnect_at=info.last_reconnect_at,
        role=ownership.role,
        read_only=not ownership.is_owner,
        owner=None if owner is None else BrokerOwnerRead.model_validate(owner),
    )
