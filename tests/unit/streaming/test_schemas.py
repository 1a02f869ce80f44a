"""The WebSocket's message schemas say what the protocol does, and are in the OpenAPI document."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from stocks_api.auth.settings import AuthSettings
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.broker.sim.settings import SimSettings
from stocks_api.connection.link import link_status
from stocks_api.core.config import DatabaseSettings
from stocks_api.main import create_app
from stocks_api.orders.state import OPEN
from stocks_api.settings import Settings
from stocks_api.streaming import schemas
from stocks_api.streaming.protocol import (
    FIXED_CHANNELS,
    QUOTE_TOPIC,
    QUOTES_PREFIX,
    TOPIC_CHANNELS,
    Op,
    ProtocolError,
    parse_client_message,
)
from tests.unit.streaming.support import Socket, flush, make_client, running, wait_until


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    settings = Settings(
        database=DatabaseSettings(url="sqlite+aiosqlite:///:memory:"),
        auth=AuthSettings(bootstrap_admin_key=False),
    )
    return create_app(settings).openapi()


def _literal(model: type[BaseModel], field: str) -> str:
    (value,) = typing.get_args(model.model_fields[field].annotation)
    return str(value)


def _members(root: type[BaseModel]) -> list[type[BaseModel]]:
    union = typing.get_args(root.model_fields["root"].annotation)
    return list(typing.get_args(union[0]) if len(union) == 1 else union)


def test_the_document_lists_the_stream_and_its_messages(document: dict[str, Any]) -> None:
    stream = document["x-websockets"]["/api/v1/ws"]
    assert stream["client"] == {"$ref": "#/components/schemas/ClientMessage"}
    assert stream["server"] == {"$ref": "#/components/schemas/ServerMessage"}
    assert "4401" in stream["description"]
    components = document["components"]["schemas"]
    for name in ("ClientMessage", "ServerMessage", "LiveEvent", "OpenOrderStatus"):
        assert name in components, name
    # An event carries the REST resource's own component, not a copy of it.
    order_event = components["OrderUpdatedMessage"]
    assert order_event["properties"]["data"] == {"$ref": "#/components/schemas/OrderRead"}
    assert order_event["x-channel"] == "orders"
    assert components["QuoteMessage"]["x-channel"] == "quotes:SYMBOL"


def test_the_values_a_client_needs_are_the_servers_own() -> None:
    assert {s.value for s in schemas.OpenOrderStatus} == {s.value for s in OPEN}
    assert [c.value for c in schemas.StreamChannel] == list(FIXED_CHANNELS)
    assert {t.value for t in schemas.LiveEventType} == {*TOPIC_CHANNELS, QUOTE_TOPIC}
    events = _members(schemas.LiveEvent)
    assert {_literal(m, "type") for m in events} == {t.value for t in schemas.LiveEventType}
    assert set(events) == set(schemas.EVENT_MESSAGES)
    assert set(events) <= set(_members(schemas.ServerMessage))
    for message in events:
        channel = message.model_config.get("json_schema_extra", {})["x-channel"]  # type: ignore[index]
        topic = _literal(message, "type")
        assert channel == TOPIC_CHANNELS.get(topic, QUOTES_PREFIX + "SYMBOL"), topic


def test_every_op_has_a_client_message() -> None:
    ops = {_literal(m, "op") for m in _members(schemas.ClientMessage)}
    assert ops == {op.value for op in Op}


@pytest.mark.parametrize(
    "message",
    [
        {"op": "auth", "token": "stk_abc"},
        {"op": "subscribe", "channels": ["orders", "quotes:BRK.B"], "id": 1},
        {"op": "unsubscribe", "channels": ["risk"], "id": "u1"},
        {"op": "ping"},
    ],
)
def test_what_the_schema_takes_the_server_takes(message: dict[str, Any]) -> None:
    schemas.ClientMessage.model_validate(message)
    parse_client_message(json.dumps(message))


@pytest.mark.parametrize(
    "message",
    [
        {"op": "dance"},
        {"op": "auth", "token": ""},
        {"op": "subscribe", "channels": []},
        {"op": "subscribe", "channels": ["gossip"]},
        {"op": "subscribe", "channels": ["orders"] * 101},
    ],
)
def test_what_the_schema_refuses_the_server_refuses(message: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        schemas.ClientMessage.model_validate(message)
    with pytest.raises(ProtocolError):
        parse_client_message(json.dumps(message))


async def test_the_frames_a_client_stream_writes_are_server_messages() -> None:
    socket = Socket()
    client = make_client(socket, heartbeat_seconds=0.02)
    async with running(client):
        client.reply("pong", {"id": 3})
        client.reply("subscribed", {"channels": ["orders"]})
        client.reply("error", {"code": "UNKNOWN_OP", "message": "no", "details": []})
        client.offer_resync("the event bus reconnected")
        await flush(client, socket, marker="heartbeat")  # "{}": a heartbeat's data
        await wait_until(lambda: socket.types.count("heartbeat") >= 2)
    for frame in socket.frames:
        schemas.ServerMessage.model_validate(frame)
    assert {"pong", "subscribed", "error", "resync", "heartbeat"} <= set(socket.types)


async def test_the_broker_link_event_is_what_link_status_publishes() -> None:
    broker = SimBroker(SimSettings(seed=7), tick=False)
    down = link_status(broker)
    await broker.connect(lambda event: None)
    try:
        up = link_status(broker, reason="restored")
    finally:
        await broker.close()
    for data in (down, up):
        # extra="forbid": a key link_status adds must be added to the schema too.
        schemas.BrokerLinkEvent.model_validate(data)
    assert set(up) == set(schemas.BrokerLinkEvent.model_fields)
