"""The WebSocket protocol of `/api/v1/ws`: channels, client operations, frames, close codes.

Pure functions and constants, so every rule of the protocol is unit-tested apart from the
network. A client sends `{"op": ...}` objects; the server sends `{"type", "seq", "ts",
"data"}` objects, one per frame, `seq` counting every message of the connection from 1.
`streaming.schemas` describes the same messages for the OpenAPI document.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stocks_api.core.schemas import SYMBOL_RE

# Close codes (RFC 6455 leaves 4000-4999 to applications; these mirror HTTP statuses).
CLOSE_UNAUTHORIZED = 4401  # no, invalid or revoked credential, or none within the time allowed
CLOSE_FORBIDDEN = 4403  # the credential lacks the `read` scope, or the Origin is not allowed
CLOSE_TOO_SLOW = 4408  # the client's outgoing queue filled up: it did not keep up

QUOTES_PREFIX = "quotes:"
FIXED_CHANNELS = ("orders", "fills", "positions", "account", "risk", "broker")

# Bus topic -> channel; quotes go to `quotes:<symbol>` of the quote itself.
TOPIC_CHANNELS = {
    "order.updated": "orders",
    "fill.created": "fills",
    "position.updated": "positions",
    "account.updated": "account",
    "risk.state": "risk",
    "broker.status": "broker",
}
QUOTE_TOPIC = "quote"
# The message that tells a client to re-read the REST resources.
RESYNC = "resync"

MAX_CHANNELS_PER_MESSAGE = 100


class Op(enum.StrEnum):
    AUTH = "auth"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    PING = "ping"


class ProtocolError(Exception):
    """A client message the server cannot act on; answered with an `error` message."""

    def __init__(self, code: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []

    def as_data(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """One parsed client message."""

    op: Op
    channels: tuple[str, ...] = ()
    token: str | None = None
    id: str | int | None = None  # echoed in the answer, so a client can match it


def parse_client_message(text: str | bytes) -> ClientMessage:
    """Parse one client frame.

    Raises:
        ProtocolError: INVALID_JSON, INVALID_MESSAGE, UNKNOWN_OP or UNKNOWN_CHANNEL.
    """
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurd nesting
        raise ProtocolError("INVALID_JSON", "the message is not valid JSON") from None
    if not isinstance(raw, dict):
        raise ProtocolError("INVALID_MESSAGE", 'send a JSON object such as {"op": "subscribe"}')
    message_id = raw.get("id")
    if message_id is not None and (
        isinstance(message_id, bool) or not isinstance(message_id, str | int)
    ):
        raise ProtocolError("INVALID_MESSAGE", "id must be a string or an integer")
    op_name = raw.get("op")
    try:
        op = Op(op_name if isinstance(op_name, str) else "")
    except ValueError:
        known = ", ".join(o.value for o in Op)
        raise ProtocolError(
            "UNKNOWN_OP",
            f"unknown op {op_name!r}; use one of {known}",
            [{"loc": ["op"], "msg": f"one of {known}"}],
        ) from None
    if op is Op.AUTH:
        token = raw.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError(
                "INVALID_MESSAGE",
                "auth needs a token: a bearer token or an API key",
                [{"loc": ["token"], "msg": "a non-empty string"}],
            )
        return ClientMessage(op, token=token, id=message_id)
    if op is Op.PING:
        return ClientMessage(op, id=message_id)
    return ClientMessage(op, channels=parse_channels(raw.get("channels")), id=message_id)


def parse_channels(value: object) -> tuple[str, ...]:
    """Validate a `channels` list; return distinct channels in order (symbols upper-cased).

    Raises:
        ProtocolError: INVALID_MESSAGE (not a list of strings) or UNKNOWN_CHANNEL.
    """
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise ProtocolError(
            "INVALID_MESSAGE",
            'channels must be a non-empty list of strings, e.g. ["orders", "quotes:AAPL"]',
            [{"loc": ["channels"], "msg": "a non-empty list of strings"}],
        )
    if len(value) > MAX_CHANNELS_PER_MESSAGE:
        raise ProtocolError(
            "INVALID_MESSAGE", f"at most {MAX_CHANNELS_PER_MESSAGE} channels per message"
        )
    channels, unknown = [], []
    for name in value:
        channel = normalize_channel(name)
        if channel is None:
            unknown.append(name)
        elif channel not in channels:
            channels.append(channel)
    if unknown:
        raise ProtocolError(
            "UNKNOWN_CHANNEL",
            f"unknown channel(s): {', '.join(map(repr, unknown))}; use "
            f"{', '.join(FIXED_CHANNELS)} or quotes:SYMBOL",
            [{"loc": ["channels"], "msg": "unknown channel", "input": name} for name in unknown],
        )
    return tuple(channels)


def normalize_channel(name: str) -> str | None:
    """Return the canonical channel name, or None for an unknown one."""
    if name in FIXED_CHANNELS:
        return name
    if name.lower().startswith(QUOTES_PREFIX):
        symbol = name[len(QUOTES_PREFIX) :].strip().upper()
        if SYMBOL_RE.match(symbol):
            return QUOTES_PREFIX + symbol
    return None


def quote_symbol(channel: str) -> str | None:
    """The symbol of a `quotes:` channel, else None."""
    return channel[len(QUOTES_PREFIX) :] if channel.startswith(QUOTES_PREFIX) else None


def channel_of(topic: str, data: dict[str, Any]) -> str | None:
    """The channel an event of `topic` is delivered on (None: not for WebSocket clients)."""
    if topic == QUOTE_TOPIC:
        symbol = data.get("symbol")
        return QUOTES_PREFIX + symbol if isinstance(symbol, str) else None
    return TOPIC_CHANNELS.get(topic)


def timestamp(at: datetime | None = None) -> str:
    """An ISO 8601 UTC time with microseconds, as in `ts` of every message."""
    moment = datetime.now(UTC) if at is None else at.astimezone(UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def frame(message_type: str, seq: int, ts: str, data_json: str) -> str:
    """One server message; `data_json` is already JSON (encoded once for every client)."""
    return f'{{"type":"{message_type}","seq":{seq},"ts":"{ts}","data":{data_json}}}'


def encode(data: Any) -> str:
    """Compact JSON of a message's data."""
    return json.dumps(data, separators=(",", ":"))
