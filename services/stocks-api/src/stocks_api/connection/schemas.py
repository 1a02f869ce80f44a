"""Schemas of the broker connection."""

from __future__ import annotations

from typing import Literal

from stocks_api.accounts.schemas import AccountRead
from stocks_api.core.schemas import ApiModel, UTCDatetime


class BrokerStatus(ApiModel):
    """The broker connection: what, where, paper or live, since when."""

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
