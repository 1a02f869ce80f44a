"""One exception hierarchy with stable codes; `core.handlers` turns each into the envelope."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """Base of every error the API reports to a client."""

    status_code: int = 500
    code: str = "INTERNAL"
    message: str = "internal error"

    def __init__(self, message: str | None = None, *, details: list[Any] | None = None) -> None:
        self.message = message or self.message
        self.details = details or []
        # Extra response headers (WWW-Authenticate, Retry-After).
        self.headers: dict[str, str] = {}
        super().__init__(self.message)


class BadRequestError(AppError):
    status_code = 400
    code = "BAD_REQUEST"
    message = "bad request"


class NotFoundError(AppError):
    status_code = 404
    code = "NOT_FOUND"
    message = "not found"


class ConflictError(AppError):
    status_code = 409
    code = "CONFLICT"
    message = "conflict"


class UnprocessableError(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"
    message = "request validation failed"


class ServiceUnavailableError(AppError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    message = "service unavailable"


class BrokerUnavailableAppError(ServiceUnavailableError):
    code = "BROKER_UNAVAILABLE"
    message = "the broker is not available"


class BrokerNotSentAppError(BrokerUnavailableAppError):
    """The broker was unreachable before anything was sent: the request may be made again."""


class BrokerTimeoutAppError(AppError):
    status_code = 504
    code = "BROKER_TIMEOUT"
    message = "the broker did not answer in time"


class BrokerRejectedAppError(UnprocessableError):
    code = "BROKER_REJECTED"
    message = "the broker refused the request"
