"""HTTP hygiene: security headers, a body size limit, text a database can store, and CORS.

Plain ASGI middlewares (not BaseHTTPMiddleware), like `core.middleware`, so they add no task
per request. `install_hygiene` adds them to an app in the order they must run.
"""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stocks_api.core import metrics
from stocks_api.core.config import ApiSettings
from stocks_api.core.handlers import error_body
from stocks_api.core.middleware import RequestContextMiddleware

PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
VALIDATION_ERROR = "VALIDATION_ERROR"
# The NUL character (U+0000): PostgreSQL cannot store it in text, and no field of the API
# has a use for it. In JSON it can only come escaped, as \u0000 after an even number of
# backslashes (an odd number escapes the backslash itself); in a URL or a form as %00.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_URL_NUL = re.compile(rb"%00")
NUL_MESSAGE = "text must not contain the NUL character (U+0000)"

CORS_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS")
CORS_HEADERS = ("Authorization", "Content-Type", "X-API-Key", "X-Request-ID")
CORS_EXPOSE_HEADERS = ("X-Request-ID",)

# Names lower-case, as ASGI servers and Starlette send them.
_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# Answers hold account data, order state, the broker's health and the metrics: never keep
# them in a browser or proxy cache. Only the dashboard's files say otherwise (`webui`).
_DEFAULT_HEADERS = (*_SECURITY_HEADERS, (b"cache-control", b"no-store"))


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response, keeping any a response set itself.

    `Cache-Control: no-store` goes on every response that sets no Cache-Control: the API,
    the probes, /metrics, /openapi.json and /docs alike. The dashboard's files set their own
    (`webui`: index.html `no-cache`, the hashed assets cached for good).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _ in headers}
                headers.extend(header for header in _DEFAULT_HEADERS if header[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes the limit, so the app stops reading it.

    An HTTPException so that FastAPI's body parsing re-raises it (any other error becomes a
    400 "error parsing the body") and the app's handler answers 413 PAYLOAD_TOO_LARGE.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail=_too_large_message(max_bytes))


class BodySizeLimitMiddleware:
    """Refuse request bodies larger than `max_bytes` with 413 PAYLOAD_TOO_LARGE.

    A declared Content-Length over the limit is refused before the app runs. A body without
    one (chunked) is counted as the app receives it: the chunk that passes the limit is not
    handed on; `receive` raises instead, and the request is answered with 413 unless the
    response had already started. An app that swallows that error and answers otherwise
    has its answer replaced with the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return

        received = 0
        exceeded = False
        response_started = False
        replaced = False

        async def receive_limited() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge(self.max_bytes)
            return message

        async def send_checked(message: Message) -> None:
            nonlocal response_started, replaced
            if replaced:
                return  # the rest of the app's answer that the 413 replaced
            if message["type"] == "http.response.start":
                if exceeded and message["status"] != 413:
                    replaced = True
                    response_started = True
                    await self._refuse(scope, send)
                    return
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive_limited, send_checked)
        except Exception:
            # After the overflow, whatever escapes the app (our error, or what the app made
            # of it) is answered with the 413; anything else is the outer middleware's job.
            if not exceeded or response_started:
                raise
            await self._refuse(scope, send)
            return
        if exceeded and not response_started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        metrics.API_ERRORS.labels(code=PAYLOAD_TOO_LARGE, status="413").inc()
        request_id = scope.get("state", {}).get("request_id")
        body = json.dumps(
            error_body(
                code=PAYLOAD_TOO_LARGE,
                message=_too_large_message(self.max_bytes),
                details=[],
                request_id=request_id,
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is never read: don't reuse the connection for it.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class NulTextMiddleware:
    """Refuse, with 422, a request whose path, query or body holds the NUL character.

    One place for every route, field and backend: PostgreSQL cannot store U+0000 in text
    (asyncpg fails, a 500 after the request was half done; SQLite would store it), so such
    text is refused before any route runs. The body is read whole first (it is bounded by
    the size limit outside this middleware), then handed to the app unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"]:
            await _refuse_nul(scope, send, "path")
            return
        query: bytes = scope.get("query_string", b"")
        if b"\x00" in query or _URL_NUL.search(query):
            await _refuse_nul(scope, send, "query")
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks, message = [], await receive()
        while message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
            message = await receive()
        else:  # the client went away before the body was complete
            await self.app(scope, _replay([message], receive), send)
            return
        body = b"".join(chunks)
        if b"\x00" in body or _JSON_NUL.search(body) or (_is_form(scope) and _URL_NUL.search(body)):
            await _refuse_nul(scope, send, "body")
            return
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that gives `messages` first, then whatever the server sends next."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _is_form(scope: Scope) -> bool:
    content_type = Headers(scope=scope).get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


async def _refuse_nul(scope: Scope, send: Send, where: str) -> None:
    metrics.API_ERRORS.labels(code=VALIDATION_ERROR, status="422").inc()
    body = json.dumps(
        error_body(
            code=VALIDATION_ERROR,
            message=NUL_MESSAGE,
            details=[{"loc": [where], "msg": NUL_MESSAGE, "type": "nul_character"}],
            request_id=scope.get("state", {}).get("request_id"),
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_hygiene(app: FastAPI, settings: ApiSettings) -> None:
    """Add security headers, CORS (only for configured origins) and the body-size limit.

    FastAPI's `add_middleware` makes the last one added the outermost, so this adds them
    innermost first. Requests pass, outermost to innermost:

        RequestContextMiddleware     added by the caller AFTER this function (request id)
        SecurityHeadersMiddleware    outermost of these: also covers the 413s and preflights
        CORSMiddleware               only if `settings.cors_origin_list()` is non-empty;
                                     outside the limit, so a browser can read a 413
        BodySizeLimitMiddleware      `settings.max_body_bytes`
        NulTextMiddleware            422 for the NUL character in a path, query or body
        (FastAPI's exception handlers and routes)

    Call it before `app.add_middleware(RequestContextMiddleware)`: the 413 envelope takes its
    request id from the request context, which must therefore run outside. The last-resort
    500 that RequestContextMiddleware itself writes carries no security headers.

    Raises:
        RuntimeError: RequestContextMiddleware was already added (it would end up inside).
    """
    added: list[object] = [entry.cls for entry in app.user_middleware]
    if RequestContextMiddleware in added:
        raise RuntimeError(
            "call install_hygiene() before adding RequestContextMiddleware, "
            "which must stay the outermost middleware"
        )
    app.add_middleware(NulTextMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
            allow_credentials=False,
        )
    app.add_middleware(SecurityHeadersMiddleware)


def _content_length(scope: Scope) -> int | None:
    # A malformed value is left to the server; the body is then counted as it arrives.
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _too_large_message(max_bytes: int) -> str:
    return f"the request body exceeds the limit of {max_bytes} bytes"
