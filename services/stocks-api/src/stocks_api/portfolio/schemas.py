"""Schemas of the portfolio: positions (current holdings and their history) and accounts
(the managed accounts, their summary, P&L and history)."""

from __future__ import annotations

from pydantic import Field

from stocks_api.broker.protocol import AccountType
from stocks_api.core.pagination import Cursor
from stocks_api.core.query import QueryDatetime
from stocks_api.core.schemas import (
    ApiModel,
    AveragePrice,
    DecimalStr,
    Money,
    Page,
    Ratio,
    RequestModel,
    Symbol,
    UTCDatetime,
)


class PositionRead(ApiModel):
    """A holding of one symbol, valued at the market's last price.

    `qty` is negative for a short. `avg_cost` includes commissions (IBKR's average cost);
    `unrealized_pnl` is what closing at `market_price` would realize before the closing
    commission. Market fields are null when the broker has no price for the symbol.
    """

    account_id: str
    symbol: str
    qty: DecimalStr
    avg_cost: AveragePrice
    cost_basis: Money
    market_price: DecimalStr | None
    market_value: Money | None
    unrealized_pnl: Money | None
    realized_pnl: Money
    opened_at: UTCDatetime | None
    updated_at: UTCDatetime


class PositionFilters(RequestModel):
    """Query parameters of `GET /api/v1/positions`."""

    account_id: str | None = Field(default=None, max_length=32)
    include_closed: bool = Field(
        default=False, description="also list flat positions (qty 0) that realized P&L"
    )


class PositionSnapshotRead(ApiModel):
    """A position at one moment: after a fill (`reason` fill) or on the interval."""

    id: int
    account_id: str
    symbol: str
    qty: DecimalStr
    avg_cost: AveragePrice
    market_price: DecimalStr | None
    market_value: Money | None
    unrealized_pnl: Money | None
    realized_pnl: Money
    reason: str
    taken_at: UTCDatetime


class PositionSnapshotPage(Page[PositionSnapshotRead]):
    """A page of position snapshots, newest first."""


class PositionHistoryFilters(RequestModel):
    """Query parameters of `GET /api/v1/positions/history`."""

    symbol: Symbol | None = None
    account_id: str | None = Field(default=None, max_length=32)
    since: QueryDatetime | None = Field(
        default=None, description="taken at or after (ISO 8601; UTC when no offset)"
    )
    until: QueryDatetime | None = Field(
        default=None, description="taken before (ISO 8601; UTC when no offset)"
    )
    limit: int = Field(default=100, ge=1, le=500)
    cursor: Cursor = None


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
    cash: Money
    market_value: Money
    gross_position_value: Money
    net_liquidation: Money
    initial_margin: Money
    maintenance_margin: Money
    available_funds: Money
    excess_liquidity: Money
    buying_power: Money
    cushion: Ratio
    leverage: Ratio
    unrealized_pnl: Money
    realized_pnl: Money = Field(description="realized since the account was first seen")
    unpriced_symbols: list[str]
    as_of: UTCDatetime


class AccountPnl(ApiModel):
    """Today's P&L: `daily_pnl` is net liquidation now minus at the last session close."""

    account_id: str
    daily_pnl: Money
    unrealized_pnl: Money
    realized_pnl: Money = Field(description="realized since the session boundary")
    session_start: UTCDatetime = Field(description="the last regular close: where today began")
    as_of: UTCDatetime


class AccountSnapshotRead(ApiModel):
    """An account's figures at one moment."""

    id: int
    account_id: str
    cash: Money
    gross_position_value: Money
    net_liquidation: Money
    unrealized_pnl: Money
    realized_pnl: Money
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
