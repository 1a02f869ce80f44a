"""Schemas of the broker connection."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stocks_api.connection.models import DisconnectReason
from stocks_api.connection.ownership import Role
from stocks_api.core.pagination import Cursor
from stocks_api.core.schemas import ApiModel, DecimalStr, Page, RequestModel, UTCDatetime
from stocks_api.portfolio.schemas import AccountRead


class BrokerOwnerRead(ApiModel):
    """The API instance that owns the broker connection (fields unknown are null)."""

    pid: int | None
    host: str | None
    since: UTCDatetime | None


class BrokerSessionRead(ApiModel):
    """One broker connection of the trading-session audit trail.

    The counters of an open session are as of `last_seen_at` (written every few seconds).
    """

    id: int
    kind: str
    host: str | None
    port: int | None
    server_version: str | None
    account_id: str | None
    instance: str = Field(description='the API instance that owned the connection, "pid@host"')
    connected_at: UTCDatetime
    disconnected_at: UTCDatetime | None = Field(description="null while the connection lasts")
    disconnect_reason: DisconnectReason | None = Field(
        description="socket_drop, shutdown, takeover (another instance took the broker over)"
        " or api_crash (found still open at the next start); null while open"
    )
    orders_sent: int
    fills_received: int
    reconnections: int = Field(description="IB-side restorations (1101/1102) behind this socket")
    ib_outage_seconds: float = Field(
        description="total time IB was unreachable behind the open socket (1100 until 1101/1102)"
    )
    ib_unreachable_since: UTCDatetime | None = Field(
        description="set while an IB outage (1100) lasts"
    )
    last_seen_at: UTCDatetime = Field(description="when the owner last wrote this row")


class BrokerSessionPage(Page[BrokerSessionRead]):
    """A page of broker sessions, newest first."""


class BrokerSessionFilters(RequestModel):
    """Query parameters of `GET /api/v1/broker/sessions`."""

    limit: int = Field(default=100, ge=1, le=500)
    cursor: Cursor = None


class BrokerLinkRead(ApiModel):
    """The link as a trader needs it: can orders reach the broker now, and since when."""

    # connected; disconnected (no socket); ib_unreachable (IB Gateway is connected but has
    # lost IB: its 1100; orders are refused until 1101/1102).
    state: Literal["connected", "disconnected", "ib_unreachable"]
    since: UTCDatetime | None
    description: str


class ResolvedOrderRead(ApiModel):
    """An order reconciliation closed because the broker did not know it."""

    order_id: int
    outcome: str
    reason: str


class PositionDifferenceRead(ApiModel):
    """A position of ours that is not the broker's (logged and shown, never written over)."""

    account_id: str
    symbol: str
    ours: DecimalStr
    broker: DecimalStr


class ReconciliationRead(ApiModel):
    """The newest reconciliation: when, why, what it resolved, how positions compared."""

    at: UTCDatetime
    trigger: Literal["start", "reconnect", "restored", "sweep"]
    resolved: list[ResolvedOrderRead]
    # null: the broker keeps no books of its own to compare with (the simulator).
    position_differences: list[PositionDifferenceRead] | None


class BrokerStatus(ApiModel):
    """The broker connection: what, where, paper or live, since when, and who owns it."""

    kind: str
    connected: bool
    host: str | None
    port: int | None
    server_version: str | None
    mode: Literal["paper", "live"]
    live_reasons: list[str]
    live_trading_allowed: bool
    accounts: list[AccountRead]
    connected_at: UTCDatetime | None
    last_reconnect_at: UTCDatetime | None
    # "owner": this instance trades; "standby": another instance on the same database
    # owns the broker connection, and this one serves reads only (`read_only`).
    role: Role
    read_only: bool
    owner: BrokerOwnerRead | None
    # The open row of the session audit trail (the newest one), as last written; null
    # when none is open, or when the database cannot answer (see /health).
    session: BrokerSessionRead | None
    link: BrokerLinkRead
    # null until this instance has reconciled (a standby never does).
    reconciliation: ReconciliationRead | None
