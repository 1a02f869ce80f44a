"""Errors of the probes and /metrics."""

from __future__ import annotations

from stocks_api.core.errors import AppError


class MetricsTokenError(AppError):
    status_code = 401
    code = "UNAUTHORIZED"
    message = "/metrics needs the token METRICS_TOKEN sets: send Authorization: Bearer <token>"

    def __init__(self) -> None:
        super().__init__()
        self.headers = {"WWW-Authenticate": 'Bearer realm="metrics", charset="UTF-8"'}


class MetricsAddressError(AppError):
    status_code = 403
    code = "FORBIDDEN"

    def __init__(self, address: str | None) -> None:
        super().__init__(f"/metrics is not open to {address or 'this client'} (METRICS_ALLOW_IPS)")
