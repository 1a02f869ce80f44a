"""Errors of the market-data domain."""

from __future__ import annotations

from stocks_api.core.errors import NotFoundError, UnprocessableError


class SymbolNotFoundError(NotFoundError):
    code = "UNKNOWN_SYMBOL"

    def __init__(self, symbol: str) -> None:
        super().__init__(f"symbol {symbol!r} is not known to the broker")


class TooManySymbolsError(UnprocessableError):
    code = "TOO_MANY_SYMBOLS"

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"{count} symbols requested; at most {limit} per request",
            details=[{"loc": ["query", "symbols"], "msg": f"at most {limit} symbols"}],
        )


class CalendarRangeError(UnprocessableError):
    code = "INVALID_DATE_RANGE"

    def __init__(self, message: str) -> None:
        super().__init__(message, details=[{"loc": ["query", "end"], "msg": message}])
