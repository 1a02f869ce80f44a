"""The messages of `/api/v1/ws` as schemas: what a client sends, and every frame the server sends.

`streaming.protocol` parses and frames the messages by hand (fast, and each rule tested apart
from the network); these models describe the same messages for programs. The route declares
them (`core.openapi.document_websocket`), so they are components of the OpenAPI document,
`ClientMessage` and `ServerMessage`, from which the web app generates its types as it does
for REST (`npm run gen:api`). An event's `data` is the REST resource's own schema
(`OrderRead`, `FillRead`, ...): the two cannot disagree. Tests validate what the server
really sends against `ServerMessage`.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from stocks_api.core.schemas import SYMBOL_PATTERN, ApiModel, UTCDatetime
from stocks_api.marketdata.schemas import QuoteRead
from stocks_api.orders.schemas import FillRead, OrderRead
from stocks_api.orders.state import OPEN, OrderStatus
from stocks_api.portfolio.schemas import AccountSummary, PositionRead
from stocks_api.risk.schemas import RiskStateRead
from stocks_api.streaming.protocol import (
    FIXED_CHANNELS,
    MAX_CHANNELS_PER_MESSAGE,
    QUOTE_TOPIC,
    QUOTES_PREFIX,
    TOPIC_CHANNELS,
)

# Runtime values a client needs, as enums, so the generated client has them as values too.
StreamChannel = enum.StrEnum(  # type: ignore[misc]
    "StreamChannel", {name.upper(): name for name in FIXED_CHANNELS}
)
StreamChannel.__doc__ = "The fixed channels; quotes are `quotes:SYMBOL`, one per symbol."
LiveEventType = enum.StrEnum(  # type: ignore[misc]
    "LiveEventType",
    {topic.replace(".", "_").upper(): topic for topic in (*TOPIC_CHANNELS, QUOTE_TOPIC)},
)
LiveEventType.__doc__ = "The `type` of every event frame (the other frames answer the client)."
OpenOrderStatus = enum.StrEnum(  # type: ignore[misc]
    "OpenOrderStatus", {status.name: status.value for status in OrderStatus if status in OPEN}
)
OpenOrderStatus.__doc__ = (
    "The statuses in which an order still works at the broker (`GET /api/v1/orders?status="
    "open`): an `order.updated` in another status takes the order off the open list."
)

_SYMBOL = SYMBOL_PATTERN.removeprefix("^").removesuffix("$")
Channel = Annotated[
    str,
    Field(
        pattern=f"^(?:{'|'.join(FIXED_CHANNELS)}|{QUOTES_PREFIX}{_SYMBOL})$",
        description="a fixed channel or `quotes:SYMBOL` (the server upper-cases the symbol)",
        examples=["orders", "quotes:AAPL"],
    ),
]
MessageId = Annotated[
    str | int | None,
    Field(description="echoed in the answer (`subscribed`, `pong`, `error`), to match it"),
]
Timestamp = Annotated[
    str,
    Field(
        description="when the server sent it: ISO 8601 UTC with microseconds",
        json_schema_extra={"format": "date-time"},
        examples=["2026-01-02T15:04:05.123456Z"],
    ),
]
Seq = Annotated[
    int,
    Field(
        ge=1,
        description="counts every message of the connection from 1; a gap means lost messages",
    ),
]


# -- client -> server ------------------------------------------------------------------------


class AuthMessage(BaseModel):
    """Authenticate: a bearer token or an API key, as the first message."""

    op: Literal["auth"]
    token: str = Field(min_length=1)
    id: MessageId = None


class SubscribeMessage(BaseModel):
    """Receive the events of these channels from now on; answered by `subscribed`."""

    op: Literal["subscribe"]
    channels: list[Channel] = Field(min_length=1, max_length=MAX_CHANNELS_PER_MESSAGE)
    id: MessageId = None


class UnsubscribeMessage(BaseModel):
    """Stop the events of these channels; answered by `unsubscribed`."""

    op: Literal["unsubscribe"]
    channels: list[Channel] = Field(min_length=1, max_length=MAX_CHANNELS_PER_MESSAGE)
    id: MessageId = None


class PingMessage(BaseModel):
    """Ask for a `pong`."""

    op: Literal["ping"]
    id: MessageId = None


class ClientMessage(
    RootModel[
        Annotated[
            AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage,
            Field(discriminator="op"),
        ]
    ]
):
    """What a client sends: one JSON object per frame, told apart by `op`."""


# -- server -> client: the data of the answers -----------------------------------------------


class WelcomeData(ApiModel):
    """Authenticated: who, what can be followed, and how often a silent server beats."""

    principal: str = Field(description="the credential's name")
    channels: list[str] = Field(description="the channels there are; quotes as `quotes:SYMBOL`")
    heartbeat_seconds: float = Field(description="a `heartbeat` comes after this much silence")
    queue_size: int = Field(description="unsent events past which the server closes (4408)")


class SubscriptionData(ApiModel):
    """The channels the connection follows now."""

    channels: list[str]
    id: MessageId = None


class PongData(ApiModel):
    """The answer to `ping`."""

    id: MessageId = None


class StreamErrorData(ApiModel):
    """A message the server could not act on; the connection stays open."""

    code: str = Field(
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description="INVALID_JSON, INVALID_MESSAGE, UNKNOWN_OP, UNKNOWN_CHANNEL, "
        "UNKNOWN_SYMBOL, TOO_MANY_SYMBOLS, NOT_AUTHENTICATED, ALREADY_AUTHENTICATED, "
        "INTERNAL, or a broker error's code",
    )
    message: str
    details: list[dict[str, Any]] = Field(description="e.g. `{loc, msg, input}` per bad field")
    id: MessageId = None


class HeartbeatData(ApiModel):
    """Nothing: the server is alive."""

    model_config = ConfigDict(extra="forbid")


class ResyncData(ApiModel):
    """Events may have been lost: re-read the resources over REST."""

    reason: str


class BrokerLinkEvent(ApiModel):
    """The broker link changed (`connection.link.link_status`)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="the broker: sim or ibkr")
    state: Literal["connected", "disconnected", "ib_unreachable"]
    connected: bool
    since: UTCDatetime | None
    description: str
    reason: str | None
    server_version: str | None


# -- server -> client: the frames ----------------------------------------------------------


class WelcomeMessage(BaseModel):
    """The first message once authenticated."""

    type: Literal["welcome"]
    seq: Seq
    ts: Timestamp
    data: WelcomeData


class SubscribedMessage(BaseModel):
    """The answer to `subscribe`."""

    type: Literal["subscribed"]
    seq: Seq
    ts: Timestamp
    data: SubscriptionData


class UnsubscribedMessage(BaseModel):
    """The answer to `unsubscribe`."""

    type: Literal["unsubscribed"]
    seq: Seq
    ts: Timestamp
    data: SubscriptionData


class PongMessage(BaseModel):
    """The answer to `ping`."""

    type: Literal["pong"]
    seq: Seq
    ts: Timestamp
    data: PongData


class StreamErrorMessage(BaseModel):
    """A client message the server could not act on."""

    type: Literal["error"]
    seq: Seq
    ts: Timestamp
    data: StreamErrorData


class HeartbeatMessage(BaseModel):
    """Sent after `heartbeat_seconds` of silence."""

    type: Literal["heartbeat"]
    seq: Seq
    ts: Timestamp
    data: HeartbeatData


class ResyncMessage(BaseModel):
    """Events may have been lost (its `seq` skips one number, so a gap says so too)."""

    type: Literal["resync"]
    seq: Seq
    ts: Timestamp
    data: ResyncData


def _channel(name: str) -> ConfigDict:
    return ConfigDict(json_schema_extra={"x-channel": name})


class OrderUpdatedMessage(BaseModel):
    """An order changed (channel `orders`)."""

    model_config = _channel(TOPIC_CHANNELS["order.updated"])

    type: Literal["order.updated"]
    seq: Seq
    ts: Timestamp
    data: OrderRead


class FillCreatedMessage(BaseModel):
    """An execution was booked (channel `fills`)."""

    model_config = _channel(TOPIC_CHANNELS["fill.created"])

    type: Literal["fill.created"]
    seq: Seq
    ts: Timestamp
    data: FillRead


class PositionUpdatedMessage(BaseModel):
    """A position was revalued or changed (channel `positions`)."""

    model_config = _channel(TOPIC_CHANNELS["position.updated"])

    type: Literal["position.updated"]
    seq: Seq
    ts: Timestamp
    data: PositionRead


class AccountUpdatedMessage(BaseModel):
    """An account's figures changed (channel `account`)."""

    model_config = _channel(TOPIC_CHANNELS["account.updated"])

    type: Literal["account.updated"]
    seq: Seq
    ts: Timestamp
    data: AccountSummary


class RiskStateMessage(BaseModel):
    """The risk engine's state, limits or usage changed (channel `risk`)."""

    model_config = _channel(TOPIC_CHANNELS["risk.state"])

    type: Literal["risk.state"]
    seq: Seq
    ts: Timestamp
    data: RiskStateRead


class QuoteMessage(BaseModel):
    """A new quote (channel `quotes:SYMBOL`; coalesced: a slow reader gets the newest)."""

    model_config = _channel(QUOTES_PREFIX + "SYMBOL")

    type: Literal["quote"]
    seq: Seq
    ts: Timestamp
    data: QuoteRead


class BrokerStatusMessage(BaseModel):
    """The broker link changed (channel `broker`)."""

    model_config = _channel(TOPIC_CHANNELS["broker.status"])

    type: Literal["broker.status"]
    seq: Seq
    ts: Timestamp
    data: BrokerLinkEvent


EVENT_MESSAGES: tuple[type[BaseModel], ...] = (
    OrderUpdatedMessage,
    FillCreatedMessage,
    PositionUpdatedMessage,
    AccountUpdatedMessage,
    RiskStateMessage,
    QuoteMessage,
    BrokerStatusMessage,
)


_Event = (
    OrderUpdatedMessage
    | FillCreatedMessage
    | PositionUpdatedMessage
    | AccountUpdatedMessage
    | RiskStateMessage
    | QuoteMessage
    | BrokerStatusMessage
)
_Answer = (
    WelcomeMessage
    | SubscribedMessage
    | UnsubscribedMessage
    | PongMessage
    | StreamErrorMessage
    | HeartbeatMessage
    | ResyncMessage
)


class LiveEvent(RootModel[Annotated[_Event, Field(discriminator="type")]]):
    """An event: a change the server pushes on a channel the client follows."""


class ServerMessage(RootModel[Annotated[_Answer | _Event, Field(discriminator="type")]]):
    """What the server sends: `{type, seq, ts, data}`, one per frame, told apart by `type`."""


# Components of the OpenAPI document besides the messages: runtime values a client needs.
VALUES: tuple[type[enum.Enum], ...] = (StreamChannel, LiveEventType, OpenOrderStatus)
