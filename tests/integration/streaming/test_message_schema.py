"""What a real stream sends is what its schema (the OpenAPI document's ServerMessage) says."""

from __future__ import annotations

from typing import Any

from stocks_api.streaming.protocol import FIXED_CHANNELS
from stocks_api.streaming.schemas import ServerMessage
from tests.conftest import engine_of, make_settings
from tests.factories import place, set_market
from tests.integration.streaming.conftest import authenticated, live_app, stream_settings


def _shape(value: Any) -> Any:
    """The keys of every object inside `value` (lists by their items), values left out."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return None


def _described(message: dict[str, Any]) -> None:
    parsed = ServerMessage.model_validate(message)
    # Nothing the server sent was left out of the schema (pydantic drops unknown keys).
    again = parsed.model_dump(mode="json", exclude_unset=True)
    assert _shape(again) == _shape(message), message["type"]


async def test_every_message_of_a_session_is_described(
    clean_database: str, broker_kind: str
) -> None:
    settings = stream_settings(clean_database, heartbeat_seconds=0.5, quote_interval_seconds=0.05)
    async with live_app(settings, broker_kind) as (app, http, base):
        set_market(engine_of(app), "189.99", "190.00", size=5000, last="190.00")
        async with authenticated(base, app.state.test_key) as stream:
            await stream.subscribe(*FIXED_CHANNELS, "quotes:AAPL")
            await stream.next_of("quote")
            await place(http, qty="10")
            await stream.next_of("fill.created")
            await stream.next_of("position.updated")
            await stream.next_of("account.updated")
            response = await http.post("/api/v1/risk/halt", json={"reason": "lunch"})
            assert response.status_code == 200, response.text
            await stream.next_of("risk.state")
            await stream.send({"op": "subscribe", "channels": ["gossip"], "id": "bad"})
            await stream.next_of("error")
            await stream.send({"op": "ping", "id": 7})
            await stream.next_of("pong")
            await stream.send({"op": "unsubscribe", "channels": ["quotes:AAPL", "orders"]})
            await stream.next_of("unsubscribed")
            await stream.next_of("heartbeat", seconds=5)

        for message in stream.received:
            _described(message)
        seen = {message["type"] for message in stream.received}
        assert seen >= {
            "welcome",
            "subscribed",
            "quote",
            "order.updated",
            "fill.created",
            "position.updated",
            "account.updated",
            "risk.state",
            "error",
            "pong",
            "unsubscribed",
            "heartbeat",
        }


async def test_broker_status_messages_are_described(clean_database: str) -> None:
    async with live_app(make_settings(clean_database), "ibkr") as (app, _, base):
        async with authenticated(base, app.state.test_key) as stream:
            await stream.subscribe("broker")
            app.state.gateway.announce_connectivity(1100)
            lost = await stream.next_of("broker.status")
            app.state.gateway.announce_connectivity(1102)
            back = await stream.next_of("broker.status")
        for message in (lost, back):
            _described(message)
