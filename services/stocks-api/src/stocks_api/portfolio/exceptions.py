"""Errors of the portfolio: unknown positions and accounts."""

from __future__ import annotations

from stocks_api.core.errors import NotFoundError


class PositionNotFoundError(NotFoundError):
    code = "POSITION_NOT_FOUND"

    def __init__(self, symbol: str, detail: str = "no position") -> None:
        super().__init__(f"{detail} in {symbol}")


class AccountNotFoundError(NotFoundError):
    code = "ACCOUNT_NOT_FOUND"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} not found")
