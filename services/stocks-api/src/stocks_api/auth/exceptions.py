"""Errors of authentication and authorization."""

from __future__ import annotations

from stocks_api.core.errors import AppError


class NotAuthenticatedError(AppError):
    status_code = 401
    code = "UNAUTHORIZED"
    message = "missing or invalid credentials: send X-API-Key or Authorization: Bearer <token>"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.headers = {"WWW-Authenticate": 'Bearer realm="stocks", charset="UTF-8"'}


class MissingScopeError(AppError):
    status_code = 403
    code = "FORBIDDEN"

    def __init__(self, scope: str) -> None:
        super().__init__(f"this credential lacks the {scope!r} scope")


class TooManyAttemptsError(AppError):
    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, retry_after: int, *, limit: str = "address") -> None:
        super().__init__(
            f"too many sign-in attempts; retry in {retry_after} s",
            details=[{"limit": limit, "retry_after": retry_after}],
        )
        self.headers = {"Retry-After": str(retry_after)}


class ApiKeyNotFoundError(AppError):
    status_code = 404
    code = "API_KEY_NOT_FOUND"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {key_id!r} not found")
