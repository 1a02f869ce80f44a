"""One WebSocket connection from accept to close: origin, authentication, client operations.

Authentication takes the same credentials as REST: `X-API-Key` or `Authorization:
Bearer` on the upgrade request, `?token=` (an API key or a bearer token; browsers cannot
set headers on a WebSocket), or a first message `{"op": "auth", "token": "..."}` within
`WS_AUTH_TIMEOUT_SECONDS`. A bad credential closes with 4401, a credential without the
`read` scope (or a browser Origin that is not allowed) with 4403. Bad messages after
that are answered with an `error` message and the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from stocks_api.auth.exceptions import NotAuthenticatedError
from stocks_api.auth.security import Scope, split_api_key
from stocks_api.auth.service import Authenticator, Principal
from stocks_api.broker.calls import call_broker
from stocks_api.broker.protocol import BrokerClient
from stocks_api.core import metrics
from stocks_api.core.config import ApiSettings
from stocks_api.core.errors import AppError
from stocks_api.marketdata.feed import QuoteFeed
from stocks_api.streaming.client import ClientStream
from stocks_api.streaming.hub import StreamHub
from stocks_api.streaming.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHORIZED,
    FIXED_CHANNELS,
    QUOTES_PREFIX,
    ClientMessage,
    Op,
    ProtocolError,
    encode,
    parse_client_message,
    quote_symbol,
    timestamp,
)
from stocks_api.streaming.settings import StreamSettings

log = structlog.get_logger(__name__)


class _Closed(Exception):
    """The connection was closed while authenticating."""


async def serve(
    websocket: WebSocket,
    *,
    hub: StreamHub,
    feed: QuoteFeed,
    broker: BrokerClient,
    authenticator: Authenticator,
    stream: StreamSettings,
    api: ApiSettings,
    broker_timeout: float,
) -> None:
    """Serve one WebSocket connection until either side closes it.

    `stream` sets its queue, heartbeat and limits, `api` the browser origins allowed, and
    `broker_timeout` bounds each broker call a subscription makes.
    """
    await websocket.accept()
    if not _origin_allowed(websocket, api.cors_origin_list()):
        await _refuse(websocket, CLOSE_FORBIDDEN, "origin not allowed", reason="origin")
        return
    client = ClientStream(
        send_text=websocket.send_text,
        close=lambda code, reason: websocket.close(code, reason),
        queue_size=stream.queue_size,
        heartbeat_seconds=stream.heartbeat_seconds,
    )
    sender = asyncio.create_task(client.run(), name="websocket-sender")
    connected = False
    try:
        principal = await _authenticate(
            websocket, client, authenticator, stream.auth_timeout_seconds
        )
        if principal is None:
            return
        if not principal.has(Scope.READ):
            await _refuse(
                websocket,
                CLOSE_FORBIDDEN,
                "this credential lacks the 'read' scope",
                reason="forbidden",
            )
            return
        hub.connect(client)
        connected = True
        client.reply(
            "welcome",
            {
                "principal": principal.name,
                "channels": [*FIXED_CHANNELS, QUOTES_PREFIX + "SYMBOL"],
                "heartbeat_seconds": stream.heartbeat_seconds,
                "queue_size": stream.queue_size,
            },
        )
        receiver = asyncio.create_task(
            _receive_forever(websocket, client, hub, feed, broker, stream, broker_timeout),
            name="websocket-receiver",
        )
        # Either side may end it: the client closes (receiver), or the sender closes a
        # client that is too slow (then nothing may wait on the receiver any more).
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await receiver
    except _Closed:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        if connected:
            await hub.disconnect(client)


# -- authentication ---------------------------------------------------------------------------


async def _authenticate(
    websocket: WebSocket, client: ClientStream, authenticator: Authenticator, timeout: float
) -> Principal | None:
    """Return the principal, or close the connection (4401) and return None."""
    try:
        credential = _credential_of_request(websocket)
        if credential is not None:
            return await _principal(authenticator, *credential)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await _next_message(websocket, client)
                    if message is None:
                        continue
                    if message.op is Op.AUTH:
                        assert message.token is not None
                        return await _principal(authenticator, "token", message.token)
                    client.reply(
                        "error",
                        {
                            "code": "NOT_AUTHENTICATED",
                            "message": 'authenticate first: {"op": "auth", "token": "..."}',
                            "details": [],
                        }
                        | _id(message),
                    )
        except TimeoutError:
            await _refuse(
                websocket,
                CLOSE_UNAUTHORIZED,
                f"no credential within {timeout:g} s",
                reason="unauthorized",
            )
            return None
    except NotAuthenticatedError as exc:
        await _refuse(websocket, CLOSE_UNAUTHORIZED, exc.message, reason="unauthorized")
        return None


def _credential_of_request(websocket: WebSocket) -> tuple[str, str] | None:
    """(kind, value) of a credential sent with the upgrade request, if any."""
    api_key = websocket.headers.get("x-api-key")
    if api_key:
        return "api_key", api_key
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "bearer", token.strip()
    query_token = websocket.query_params.get("token")
    if query_token:
        return "token", query_token
    return None


async def _principal(authenticator: Authenticator, kind: str, value: str) -> Principal:
    """Authenticate; a `token` may be an API key or a bearer token (told apart by form)."""
    if kind == "api_key" or (kind == "token" and split_api_key(value) is not None):
        return await authenticator.from_api_key(value)
    return authenticator.from_token(value)


def _origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """Browsers send Origin: allow the API's own origin and the configured CORS origins.

    Without this check any web page a user visits could open a stream with a token the
    browser holds; programs other than browsers send no Origin and are not affected.
    """
    origin = websocket.headers.get("origin")
    if origin is None or origin in allowed or "*" in allowed:
        return True
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()


async def _refuse(websocket: WebSocket, code: int, message: str, *, reason: str) -> None:
    metrics.WEBSOCKET_DISCONNECTS.labels(reason=reason).inc()
    log.info("websocket_refused", code=code, why=message)
    if websocket.application_state is not WebSocketState.DISCONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code, message[:120])  # a close reason is at most 123 bytes


# -- client messages ----------------------------------------------------------------------


async def _next_message(websocket: WebSocket, client: ClientStream) -> ClientMessage | None:
    """Receive one message; None after answering a bad one with an `error` message.

    Raises:
        _Closed: the client disconnected.
    """
    received = await websocket.receive()
    if received["type"] == "websocket.disconnect":
        raise _Closed()
    text = received.get("text")
    payload: str | bytes = text if text is not None else received.get("bytes") or b""
    try:
        return parse_client_message(payload)
    except ProtocolError as exc:
        client.reply("error", exc.as_data())
        return None


async def _receive_forever(
    websocket: WebSocket,
    client: ClientStream,
    hub: StreamHub,
    feed: QuoteFeed,
    broker: BrokerClient,
    stream: StreamSettings,
    broker_timeout: float,
) -> None:
    with contextlib.suppress(_Closed):
        while True:
            message = await _next_message(websocket, client)
            if message is None:
                continue
            try:
                await _handle(message, client, hub, feed, broker, stream, broker_timeout)
            except ProtocolError as exc:
                client.reply("error", exc.as_data() | _id(message))
            except Exception:  # a bug answering one message must not end the stream
                log.exception("websocket_message_failed", op=message.op.value)
                failure = {"code": "INTERNAL", "message": "the server failed on this message"}
                client.reply("error", failure | {"details": []} | _id(message))


async def _handle(
    message: ClientMessage,
    client: ClientStream,
    hub: StreamHub,
    feed: QuoteFeed,
    broker: BrokerClient,
    stream: StreamSettings,
    broker_timeout: float,
) -> None:
    if message.op is Op.PING:
        client.reply("pong", _id(message))
    elif message.op is Op.AUTH:
        raise ProtocolError("ALREADY_AUTHENTICATED", "this connection is authenticated already")
    elif message.op is Op.SUBSCRIBE:
        new = tuple(c for c in message.channels if c not in client.channels)
        symbols = [s for s in map(quote_symbol, new) if s is not None]
        await _check_symbols(client, symbols, broker, stream.max_quote_symbols, broker_timeout)
        hub.subscribe(client, new)
        client.reply("subscribed", {"channels": sorted(client.channels)} | _id(message))
        # A new quote subscriber starts from the current quote rather than the next change.
        for symbol in symbols:
            with contextlib.suppress(AppError):
                client.offer_quote(symbol, timestamp(), encode(await feed.snapshot(symbol)))
    else:
        hub.unsubscribe(client, message.channels)
        client.reply("unsubscribed", {"channels": sorted(client.channels)} | _id(message))


async def _check_symbols(
    client: ClientStream,
    symbols: list[str],
    broker: BrokerClient,
    limit: int,
    broker_timeout: float,
) -> None:
    followed = sum(1 for c in client.channels if c.startswith(QUOTES_PREFIX))
    if followed + len(symbols) > limit:
        raise ProtocolError(
            "TOO_MANY_SYMBOLS", f"at most {limit} quotes:SYMBOL channels per connection"
        )
    unknown = []
    for symbol in symbols:
        try:
            contract = await call_broker(broker.contract(symbol), timeout=broker_timeout)
        except AppError as exc:
            raise ProtocolError(exc.code, exc.message) from None
        if contract is None:
            unknown.append(symbol)
    if unknown:
        raise ProtocolError(
            "UNKNOWN_SYMBOL",
            f"not known to the broker: {', '.join(unknown)}",
            [
                {"loc": ["channels"], "msg": "unknown symbol", "input": QUOTES_PREFIX + s}
                for s in unknown
            ],
        )


def _id(message: ClientMessage) -> dict[str, Any]:
    return {} if message.id is None else {"id": message.id}
