"""Market data from the broker: quotes, bars, and the marks that value positions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from stocks_api.broker.calls import call_broker
from stocks_api.broker.protocol import Bar, BarInterval, BrokerClient, Quote
from stocks_api.core.errors import (
    AppError,
    BrokerTimeoutAppError,
    BrokerUnavailableAppError,
    UnprocessableError,
)
from stocks_api.core.schemas import SYMBOL_RE
from stocks_api.marketdata.exceptions import SymbolNotFoundError, TooManySymbolsError
from stocks_api.marketdata.schemas import MAX_QUOTE_SYMBOLS, QuoteError


def parse_symbol_list(text: str) -> list[str]:
    """Split ``"aapl, MSFT,aapl"`` into distinct upper-case symbols, in order.

    Empty items are skipped; the cap counts every symbol listed, repeats too (as
    `SYMBOLS_PATTERN` documents it).

    Raises:
        UnprocessableError: no symbols; TooManySymbolsError: more than the cap.
    """
    listed = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not listed:
        raise UnprocessableError(
            "give at least one symbol",
            details=[{"loc": ["query", "symbols"], "msg": "no symbols", "type": "missing"}],
        )
    if len(listed) > MAX_QUOTE_SYMBOLS:
        raise TooManySymbolsError(len(listed), MAX_QUOTE_SYMBOLS)
    return list(dict.fromkeys(listed))


async def get_quotes(
    *, broker: BrokerClient, symbols: list[str], timeout: float
) -> tuple[list[Quote], list[QuoteError]]:
    """Fetch quotes concurrently; a symbol that fails is reported, not raised."""
    results = await asyncio.gather(
        *(_quote_or_error(broker, symbol, timeout) for symbol in symbols)
    )
    quotes = [r for r in results if isinstance(r, Quote)]
    errors = [r for r in results if isinstance(r, QuoteError)]
    return quotes, errors


async def _quote_or_error(broker: BrokerClient, symbol: str, timeout: float) -> Quote | QuoteError:
    if not SYMBOL_RE.match(symbol):
        return QuoteError(symbol=symbol, code="INVALID_SYMBOL", message="not a valid symbol")
    try:
        if await call_broker(broker.contract(symbol), timeout=timeout) is None:
            return QuoteError(
                symbol=symbol, code="UNKNOWN_SYMBOL", message="not known to the broker"
            )
        return await call_broker(broker.get_quote(symbol), timeout=timeout)
    except AppError as exc:
        return QuoteError(symbol=symbol, code=exc.code, message=exc.message)


async def get_bars(
    *,
    broker: BrokerClient,
    symbol: str,
    interval: BarInterval,
    limit: int,
    end: datetime | None = None,
    timeout: float,
) -> list[Bar]:
    """Return OHLCV bars of a known symbol, oldest first."""
    if await call_broker(broker.contract(symbol), timeout=timeout) is None:
        raise SymbolNotFoundError(symbol)
    return await call_broker(
        broker.get_bars(symbol, interval, limit=limit, end=end), timeout=timeout
    )


async def marks(
    *, broker: BrokerClient, symbols: Iterable[str], timeout: float, strict: bool = False
) -> dict[str, Decimal | None]:
    """Return the price each symbol is valued at (its last trade), None where unknown.

    Held symbols were traded, so unlike `get_quotes` there is no contract look-up first:
    one broker call per symbol, and a failed quote leaves that symbol unpriced. `strict`
    (the risk checks) raises instead when the broker is unreachable or too slow: that is
    the link failing, not a price being unknown, and must not pass for a risk verdict.
    """
    unique = list(dict.fromkeys(symbols))
    results = await asyncio.gather(
        *(call_broker(broker.get_quote(symbol), timeout=timeout) for symbol in unique),
        return_exceptions=True,
    )
    prices: dict[str, Decimal | None] = {}
    for symbol, result in zip(unique, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, AppError):
            raise result
        if strict and isinstance(result, BrokerUnavailableAppError | BrokerTimeoutAppError):
            raise result
        prices[symbol] = result.last if isinstance(result, Quote) else None
    return prices
