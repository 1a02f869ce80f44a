"""Schemas of the broker connection."""

from __future__ import annotations

from typing import Literal

from stocks_api.accounts.schemas import AccountRead
from stocks_api.connection.ownership import Role
from stocks_api.core.schemas import ApiModel, UTCDatetime


class BrokerOwnerRead(ApiModel):
    """The API instance that owns the broker connection (fields unknown are null)."""

    pid: int | None
    host: str | None
    since: UTCDatetime | None


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
