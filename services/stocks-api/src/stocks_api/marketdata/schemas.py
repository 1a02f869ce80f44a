"""Schemas of market data: quotes and OHLCV bars."""

from __future__ import annotations

from pydantic import Field

from stocks_api.broker.protocol import BarInterval
from stocks_api.core.query import QueryDatetime
from stocks_api.core.schemas import ApiModel, DecimalStr, RequestModel, UTCDatetime

MAX_QUOTE_SYMBOLS = 50
# What `GET /quotes?symbols=` takes: 1 to MAX_QUOTE_SYMBOLS comma-separated items that are not
# blank, blank ones anywhere (skipped). Each item is looked up as it is; one that is not a
# symbol is reported in the answer's `errors`, not refused.
_ITEM = r"[^\s,][^,]*"
_BLANK = r"[\s,]*"
SYMBOLS_PATTERN = rf"^{_BLANK}{_ITEM}(?:,{_BLANK}{_ITEM}){{0,{MAX_QUOTE_SYMBOLS - 1}}}{_BLANK}$"
MAX_BARS = 5000


class QuoteRead(ApiModel):
    """The top of book and last trade of one symbol."""

    symbol: str
    bid: DecimalStr
    ask: DecimalStr
    last: DecimalStr
    bid_size: DecimalStr
    ask_size: DecimalStr
    volume: DecimalStr
    ts: UTCDatetime


class QuoteError(ApiModel):
    """Why one requested symbol has no quote."""

    symbol: str
    code: str
    message: str


class QuoteList(ApiModel):
    """Quotes in the order requested; symbols without a quote are listed in `errors`."""

    quotes: list[QuoteRead]
    errors: list[QuoteError] = Field(default_factory=list)


class BarRead(ApiModel):
    """One OHLCV bar; `start` opens its interval."""

    start: UTCDatetime
    open: DecimalStr
    high: DecimalStr
    low: DecimalStr
    close: DecimalStr
    volume: DecimalStr


class BarList(ApiModel):
    """Bars of one symbol, oldest first."""

    symbol: str
    interval: BarInterval
    bars: list[BarRead]


class BarFilters(RequestModel):
    """Query parameters of `GET /api/v1/marketdata/bars/{symbol}`."""

    interval: BarInterval = BarInterval.M1
    limit: int = Field(default=500, ge=1, le=MAX_BARS)
    end: QueryDatetime | None = Field(
        default=None, description="bars starting before this time (ISO 8601; default now)"
    )
