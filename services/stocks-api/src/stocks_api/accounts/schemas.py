"""Schemas of accounts: the managed accounts, their summary, P&L and history."""

from __future__ import annotations

from pydantic import Field

from stocks_api.broker.protocol import AccountType
from stocks_api.core.pagination import Cursor
from stocks_api.core.query import QueryDatetime
from stocks_api.core.schemas import ApiModel, DecimalStr, Page, RequestModel, UTCDatetime


class AccountRead(ApiModel):
    """An account the broker manages; paper accounts have ids starting with DU."""

    account_id: str
    account_type: AccountType
    currency: str
    is_paper: bool


class AccountSummary(ApiModel):
    """Balance-sheet figures of an account, positions valued at their last price.

    Margin is Reg T: initial 50%, maintenance 25% long / 30% short; buying power is 2x
    the available funds in a margin account and the cash in a cash account. `cushion` is
    excess liquidity / net liquidation; `leverage` is gross position value / net
    liquidation. Positions without a price are left out of the figures and named in
    `unpriced_symbols`.
    """

    account_id: str
    account_type: AccountType
    currency: str
    is_paper: bool
    cash: DecimalStr
    market_value: DecimalStr
    gross_position_value: DecimalStr
    net_liquidation: DecimalStr
    initial_margin: DecimalStr
    maintenance_margin: DecimalStr
    available_funds: DecimalStr
    excess_liquidity: DecimalStr
    buying_power: DecimalStr
    cushion: DecimalStr
    leverage: DecimalStr
    unrealized_pnl: DecimalStr
    realized_pnl: DecimalStr = Field(description="realized since the account was first seen")
    unpriced_symbols: list[str]
    as_of: UTCDatetime


class AccountPnl(ApiModel):
    """Today's P&L: `daily_pnl` is net liquidation now minus at the last session close."""

    account_id: str
    daily_pnl: DecimalStr
    unrealized_pnl: DecimalStr
    realized_pnl: DecimalStr = Field(description="realized since the session boundary")
    session_start: UTCDatetime = Field(description="the last regular close: where today began")
    as_of: UTCDatetime


class AccountSnapshotRead(ApiModel):
    """An account's figures at one moment."""

    id: int
    account_id: str
    cash: DecimalStr
    gross_position_value: DecimalStr
    net_liquidation: DecimalStr
    unrealized_pnl: DecimalStr
    realized_pnl: DecimalStr
    reason: str
    taken_at: UTCDatetime


class AccountSnapshotPage(Page[AccountSnapshotRead]):
    """A page of account snapshots, newest first."""


class AccountHistoryFilters(RequestModel):
    """Query parameters of `GET /api/v1/accounts/{account_id}/history`."""

    since: QueryDatetime | None = Field(
        default=None, description="taken at or after (ISO 8601; UTC when no offset)"
    )
    until: QueryDatetime | None = Field(
        default=None, description="taken before (ISO 8601; UTC when no offset)"
    )
    limit: int = Field(default=100, ge=1, le=500)
    cursor: Cursor = None
