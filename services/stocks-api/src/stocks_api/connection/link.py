"""The broker link as a trader sees it: connected, disconnected, or IB unreachable (1100).

One description for `/health`, `GET /api/v1/broker` and the WebSocket's `broker.status`
event, so the three never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stocks_api.broker.protocol import BrokerClient, LinkState

LINK_TOPIC = "broker.status"

_DESCRIPTIONS = {
    LinkState.CONNECTED: "connected: orders reach the broker",
    LinkState.DISCONNECTED: "not connected to the broker: orders are refused (503)",
    LinkState.IB_UNREACHABLE: (
        "IB Gateway is connected but has lost IB (1100): orders are refused (503) until IB"
        " is back (1101/1102), then everything that happened meanwhile is replayed"
    ),
}


def describe(state: LinkState) -> str:
    """One sentence for a link state."""
    return _DESCRIPTIONS[state]


def link_status(broker: BrokerClient, *, reason: str | None = None) -> dict[str, Any]:
    """The link's state now, as JSON-ready data."""
    info = broker.connection_info()
    state = (
        info.state
        if broker.is_connected or info.state is not LinkState.CONNECTED
        else (LinkState.DISCONNECTED)
    )
    since: datetime | None = info.state_since
    return {
        "kind": info.kind,
        "state": state.value,
        "connected": state is LinkState.CONNECTED,
        "since": None if since is None else since.isoformat(),
        "description": describe(state),
        "reason": reason,
        "server_version": info.server_version,
    }
