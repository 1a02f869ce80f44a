"""The WebSocket route `/api/v1/ws` (the protocol is in `streaming.protocol`, its schemas in
`streaming.schemas`, declared here for the OpenAPI document)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.core.openapi import document_websocket
from stocks_api.streaming import schemas, service
from stocks_api.streaming.protocol import CLOSE_FORBIDDEN, CLOSE_TOO_SLOW, CLOSE_UNAUTHORIZED

router = APIRouter(tags=["streaming"], route_class=ExactJsonRoute)


@router.websocket("/ws")
@document_websocket(
    client=schemas.ClientMessage,
    server=schemas.ServerMessage,
    components=(schemas.LiveEvent, *schemas.VALUES),
    description=(
        "Orders, fills, positions, account, risk state, quotes and the broker link as they "
        "happen. Authenticate (credential on the upgrade request, or a first `auth` "
        f"message), then `subscribe`. Close codes: {CLOSE_UNAUTHORIZED} no valid credential, "
        f"{CLOSE_FORBIDDEN} no `read` scope or a foreign Origin, {CLOSE_TOO_SLOW} too slow."
    ),
)
async def stream(websocket: WebSocket) -> None:
    """Stream orders, fills, positions, account, risk state and quotes as they happen."""
    state = websocket.app.state
    await service.serve(
        websocket,
        hub=state.hub,
        feed=state.quote_feed,
        broker=state.broker,
        authenticator=state.authenticator,
        stream=state.settings.stream,
        api=state.settings.api,
        broker_timeout=state.settings.broker_timeout_seconds,
    )
