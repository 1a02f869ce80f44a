"""Exception handlers: every error leaves the API in the one envelope of SPEC.md."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stocks_api.core import metrics
from stocks_api.core.errors import AppError
from stocks_api.core.routing import allowed_methods

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def error_body(
    *, code: str, message: str, details: list[Any], request_id: str | None
) -> dict[str, Any]:
    """Build the error envelope."""
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details,
            "request_id": request_id,
        }
    }


def error_response(
    request: Request,
    *,
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Answer with the error envelope and count the error."""
    metrics.API_ERRORS.labels(code=code, status=str(status)).inc()
    request_id = getattr(request.state, "request_id", None)
    return JSONResponse(
        error_body(code=code, message=message, details=details or [], request_id=request_id),
        status_code=status,
        headers=headers,
    )


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status_code >= 500:
        log.error("app_error", code=exc.code, message=exc.message)
    return error_response(
        request,
        status=exc.status_code,
        code=exc.code,
        message=exc.message,
        details=exc.details,
        headers=exc.headers or None,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [_detail(error) for error in exc.errors()]
    if any(d["type"] == "json_invalid" for d in details):
        return error_response(
            request,
            status=400,
            code="MALFORMED_JSON",
            message="the request body is not valid JSON",
            details=details,
        )
    return error_response(
        request,
        status=422,
        code="VALIDATION_ERROR",
        message=_validation_message(details),
        details=details,
    )


def _validation_message(details: list[dict[str, Any]]) -> str:
    """Name the first field refused and why, so the message alone tells what to fix."""
    if not details:
        return "request validation failed"
    first = details[0]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"request validation failed: {'.'.join(first['loc'])}: {first['msg']}{more}"


def _detail(error: Any) -> dict[str, Any]:
    # Only JSON-safe parts: `input` and `ctx` may hold arbitrary objects.
    return {
        "loc": [str(part) for part in error.get("loc", ())],
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
    }


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.lower().replace("_", " ")
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        # Starlette names only the methods of the first route matching the path.
        methods = allowed_methods(request.app.router.routes, request.scope)
        if methods:
            headers["Allow"] = ", ".join(methods)
    return error_response(
        request,
        status=exc.status_code,
        code=code,
        message=message,
        headers=headers or None,
    )


def install_exception_handlers(app: FastAPI) -> None:
    """Register the handlers; unexpected exceptions are caught by the request middleware."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
