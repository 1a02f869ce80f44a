"""REST routes of market data: quotes and bars."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from stocks_api.broker.dependencies import BrokerDep, BrokerTimeoutDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.marketdata import service
from stocks_api.marketdata.schemas import (
    MAX_QUOTE_SYMBOLS,
    SYMBOLS_PATTERN,
    BarFilters,
    BarList,
    BarRead,
    QuoteList,
    QuoteRead,
)

router = APIRouter(prefix="/marketdata", tags=["marketdata"], route_class=ExactJsonRoute)

_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"description": "unknown symbol"},
    422: {"description": "validation failed"},
    503: {"description": "broker unavailable"},
    504: {"description": "the broker did not answer in time (BROKER_TIMEOUT)"},
}


@router.get("/quotes", responses=_ERRORS)
async def get_quotes(
    broker: BrokerDep,
    timeout: BrokerTimeoutDep,
    symbols: Annotated[
        str,
        Query(
            max_length=1000,
            description=f"comma-separated symbols, at most {MAX_QUOTE_SYMBOLS}",
            examples=["AAPL,MSFT"],
            # Documented only: parse_symbol_list applies it, with Python's idea of a blank.
            json_schema_extra={"pattern": SYMBOLS_PATTERN},
        ),
    ],
) -> QuoteList:
    """Get the current quote of each symbol; unknown symbols are listed in `errors`."""
    quotes, errors = await service.get_quotes(
        broker=broker,
        symbols=service.parse_symbol_list(symbols),
        timeout=timeout,
    )
    return QuoteList(quotes=[QuoteRead.model_validate(q) for q in quotes], errors=errors)


@router.get("/bars/{symbol}", responses=_ERRORS)
async def get_bars(
    broker: BrokerDep,
    timeout: BrokerTimeoutDep,
    symbol: Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9.]{0,11}$")],
    filters: Annotated[BarFilters, Query()],
) -> BarList:
    """Get OHLCV bars of a symbol at 1m, 5m, 1h or 1d, oldest first."""
    symbol = symbol.upper()
    bars = await service.get_bars(
        broker=broker,
        symbol=symbol,
        interval=filters.interval,
        limit=filters.limit,
        end=filters.end,
        timeout=timeout,
    )
    return BarList(
        symbol=symbol, interval=filters.interval, bars=[BarRead.model_validate(b) for b in bars]
    )
