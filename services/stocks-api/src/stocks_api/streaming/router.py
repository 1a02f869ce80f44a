"""The WebSocket route `/api/v1/ws` (the protocol is in `streaming.protocol`)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.streaming import service

router = APIRouter(tags=["streaming"], route_class=ExactJsonRoute)


@router.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    """Stream orders, fills, positions, account, risk state and quotes as they happen."""
    state = websocket.app.state
    await service.serve(
        websocket,
        hub=state.hub,
        feed=state.quote_feed,
        broker=state.broker,
        authenticator=state.authenticator,
        settings=state.settings,
    )
