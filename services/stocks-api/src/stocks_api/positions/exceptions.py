"""Errors of the position domain."""

from __future__ import annotations

from stocks_api.core.errors import NotFoundError


class PositionNotFoundError(NotFoundError):
    code = "POSITION_NOT_FOUND"

    def __init__(self, symbol: str, detail: str = "no position") -> None:
        super().__init__(f"{detail} in {symbol}")
