"""A WebSocket route's declared messages become components of the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from fastapi import APIRouter, FastAPI, WebSocket
from pydantic import BaseModel

from stocks_api.core.openapi import document_websocket, install_openapi


class Thing(BaseModel):
    name: str


class Hello(BaseModel):
    op: Literal["hello"]


class ThingFrame(BaseModel):
    type: Literal["thing"]
    data: Thing


def _app(server: type[BaseModel], *, rest_thing: type[BaseModel] = Thing) -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/v1")

    @router.get("/things", response_model=rest_thing)
    async def list_things() -> Any:
        raise NotImplementedError

    @router.websocket("/ws")
    @document_websocket(client=Hello, server=server, description="things as they change")
    async def stream(websocket: WebSocket) -> None:
        raise NotImplementedError

    @router.websocket("/quiet")
    async def undeclared(websocket: WebSocket) -> None:
        raise NotImplementedError

    app.include_router(router)
    install_openapi(app)
    return app


def test_the_messages_are_components_and_the_route_is_listed() -> None:
    document = _app(ThingFrame).openapi()
    assert document["x-websockets"] == {
        "/v1/ws": {
            "description": "things as they change",
            "client": {"$ref": "#/components/schemas/Hello"},
            "server": {"$ref": "#/components/schemas/ThingFrame"},
        }
    }
    schemas = document["components"]["schemas"]
    assert schemas["ThingFrame"]["properties"]["data"] == {"$ref": "#/components/schemas/Thing"}
    assert list(schemas) == sorted(schemas)


def test_a_name_that_would_mean_two_schemas_is_refused() -> None:
    class Thing(BaseModel):  # the REST operations' Thing, not the messages'
        name: int

    with pytest.raises(ValueError, match="Thing would have two schemas"):
        _app(ThingFrame, rest_thing=Thing).openapi()
