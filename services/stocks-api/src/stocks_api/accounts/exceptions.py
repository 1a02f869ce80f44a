"""Errors of the account domain."""

from __future__ import annotations

from stocks_api.core.errors import NotFoundError


class AccountNotFoundError(NotFoundError):
    code = "ACCOUNT_NOT_FOUND"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} not found")
