"""The WebSocket's `broker` channel: the link's state as it changes (issue 17)."""

from __future__ import annotations

from tests.conftest import make_settings
from tests.integration.streaming.conftest import authenticated, live_app


async def test_ib_outage_and_restoration_are_announced_on_the_broker_channel(
    clean_database: str,
) -> None:
    async with live_app(make_settings(clean_database), "ibkr") as (app, _, base):
        gateway = app.state.gateway
        async with authenticated(base, app.state.test_key) as stream:
            ack = await stream.subscribe("broker")
            assert ack["data"]["channels"] == ["broker"]

            gateway.announce_connectivity(1100)
            lost = await stream.next_of("broker.status")
            assert lost["data"]["state"] == "ib_unreachable"
            assert lost["data"]["connected"] is False
            assert "1100" in lost["data"]["reason"]
            assert lost["data"]["since"] is not None

            gateway.announce_connectivity(1102)
            back = await stream.next_of("broker.status")
            assert back["data"]["state"] == "connected"
            assert back["data"]["connected"] is True

            gateway.drop_connections()
            dropped = await stream.next_of("broker.status")
            assert dropped["data"]["state"] == "disconnected"
            assert dropped["data"]["reason"] == "socket_drop"
            again = await stream.next_of("broker.status", seconds=15)
            assert again["data"]["state"] == "connected"
