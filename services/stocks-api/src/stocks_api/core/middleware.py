"""Request context: request id, structured log line, metrics and the last-resort 500.

A plain ASGI middleware (not BaseHTTPMiddleware) so it adds no task per request.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stocks_api.core import metrics
from stocks_api.core.handlers import error_body

log = structlog.get_logger("stocks_api.request")

REQUEST_ID_HEADER = "x-request-id"
# A client's id is echoed only when it is safe to put in logs and headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestContextMiddleware:
    """Give every request an id, log it, measure it, and never leak a stack trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_exception", path=scope["path"])
            if not response_started:
                await _send_internal_error(send_with_id, request_id)
        finally:
            elapsed = time.perf_counter() - started
            route_path = _route_template(scope)
            method = scope["method"]
            metrics.API_REQUESTS.labels(method=method, route=route_path, status=str(status)).inc()
            metrics.API_REQUEST_DURATION.labels(method=method, route=route_path).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=scope["path"],
                route=route_path,
                status=status,
                duration_ms=round(elapsed * 1000, 3),
            )
            structlog.contextvars.clear_contextvars()


def _route_template(scope: Scope) -> str:
    """The matched route's path template ("/api/v1/orders/{order_id}"), for metric labels.

    FastAPI >= 0.13x keeps included routers nested and records the full template on its
    effective route context; older versions put the (already prefixed) route in scope.
    """
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    return path or "unmatched"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _VALID_REQUEST_ID.match(text) else None
    return None


async def _send_internal_error(send: Send, request_id: str) -> None:
    metrics.API_ERRORS.labels(code="INTERNAL", status="500").inc()
    body = json.dumps(
        error_body(
            code="INTERNAL", message="internal server error", details=[], request_id=request_id
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
