"""Schemas of positions: current holdings and their history."""

from __future__ import annotations

from pydantic import Field

from stocks_api.core.pagination import Cursor
from stocks_api.core.query import QueryDatetime
from stocks_api.core.schemas import ApiModel, DecimalStr, Page, RequestModel, UTCDatetime
from stocks_api.orders.schemas import Symbol


class PositionRead(ApiModel):
    """A holding of one symbol, valued at the market's last price.

    `qty` is negative for a short. `avg_cost` includes commissions (IBKR's average cost);
    `unrealized_pnl` is what closing at `market_price` would realize before the closing
    commission. Market fields are null when the broker has no price for the symbol.
    """

    account_id: str
    symbol: str
    qty: DecimalStr
    avg_cost: DecimalStr
    cost_basis: DecimalStr
    market_price: DecimalStr | None
    market_value: DecimalStr | None
    unrealized_pnl: DecimalStr | None
    realized_pnl: DecimalStr
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
    avg_cost: DecimalStr
    market_price: DecimalStr | None
    market_value: DecimalStr | None
    unrealized_pnl: DecimalStr | None
    realized_pnl: DecimalStr
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


class ClosePositionParams(RequestModel):
    """Query parameters of `DELETE /api/v1/positions/{symbol}`."""

    account_id: str | None = Field(default=None, max_length=32)
    outside_rth: bool = Field(
        default=False, description="let the closing market order work outside regular hours"
    )
