"""The OpenAPI document: every error an operation can answer, each in the error envelope.

FastAPI documents what a route declares, and one 422 in its own `{"detail": [...]}` shape
that this API never sends. `install_openapi` completes the document once it is generated:

- every 4xx and 5xx response is the error envelope (`ErrorResponse`, see `core.handlers`),
  unless its route declares a body of its own (the probes' 503);
- every operation may answer 422: the NUL check (`core.hygiene`) refuses a path or query
  before any route runs, and validation refuses bad parameters and bodies;
- an operation with a request body may also answer 400 (a body that is not JSON) and 413
  (a body over `API_MAX_BODY_BYTES`);
- a bounded decimal is stated in JSON Schema (`core.decimal_schema`), not in pydantic's
  own keywords;
- a WebSocket route that declares its messages (`document_websocket`) has them as
  components, and is listed under `x-websockets` (FastAPI documents HTTP operations only).

Errors that depend on where a route hangs (401 and 403 below the authenticating routers,
503 below the read-only gate) are declared by `main` with `error_responses`, and a domain's
own (404, 409, ...) by its router.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode
from starlette.routing import BaseRoute

from stocks_api.core import decimal_schema

ERROR_SCHEMA = "ErrorResponse"
_REF_TEMPLATE = "#/components/schemas/{model}"
_ERROR_REF = {"$ref": _REF_TEMPLATE.format(model=ERROR_SCHEMA)}
WEBSOCKETS = "x-websockets"
_MESSAGES_ATTRIBUTE = "__websocket_messages__"
# FastAPI's own 422 shape, unused once every error is the envelope.
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

DESCRIPTIONS = {
    400: "the body is not JSON (MALFORMED_JSON)",
    401: "missing or invalid credentials (UNAUTHORIZED)",
    403: "the credentials lack the scope the operation needs (FORBIDDEN)",
    413: "the body is larger than API_MAX_BODY_BYTES (PAYLOAD_TOO_LARGE)",
    422: "validation failed (VALIDATION_ERROR; `details` names each field)",
    503: (
        "unavailable: the broker is not connected (BROKER_UNAVAILABLE), or this instance is "
        "a read-only standby and the request is a change (READ_ONLY_INSTANCE)"
    ),
}


class ErrorBody(BaseModel):
    """What went wrong: a stable code, a message for people, and details for programs."""

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", examples=["VALIDATION_ERROR"])
    message: str
    details: list[Any] = Field(
        description="per error: e.g. `{loc, msg, type}` of a refused field, or a failed check"
    )
    request_id: str | None = Field(description="the request's X-Request-ID")


class ErrorResponse(BaseModel):
    """The one envelope of every error the API answers."""

    error: ErrorBody


@dataclass(frozen=True, slots=True)
class WebSocketMessages:
    """What a WebSocket route's peers send: types pydantic can describe (models, unions, enums)."""

    client: Any
    server: Any
    components: tuple[Any, ...] = ()  # further types a client needs (values, subsets)
    description: str = ""


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def document_websocket(
    *, client: Any, server: Any, components: Iterable[Any] = (), description: str = ""
) -> Callable[[Endpoint], Endpoint]:
    """Declare a WebSocket endpoint's messages for the OpenAPI document (below the route)."""
    messages = WebSocketMessages(client, server, tuple(components), description)

    def declare(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _MESSAGES_ATTRIBUTE, messages)
        return endpoint

    return declare


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for `statuses`, described as in `DESCRIPTIONS`."""
    return {status: {"description": DESCRIPTIONS[status]} for status in statuses}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the document completed as described above."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = document_websockets(generate(), app.routes)
            app.openapi_schema = document_decimals(document_errors(document))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Complete `document` (in place, and return it) with the errors described above."""
    for operation in _operations(document):
        responses: dict[str, Any] = operation.setdefault("responses", {})
        wanted = [422, 400, 413] if "requestBody" in operation else [422]
        for code in wanted:
            responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
        for status, response in responses.items():
            if status[0] in "45" and _is_envelope(response):
                response["content"] = {"application/json": {"schema": dict(_ERROR_REF)}}
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_ERROR_SCHEMAS:
        schemas.pop(name, None)
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas[ERROR_SCHEMA] = error_schema
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def document_websockets(document: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """Add (in place, and return) the messages of each declared WebSocket route.

    Each type becomes a component, with the types it refers to (the REST resources an
    event carries are the very components of the HTTP operations: a name that would mean
    two schemas is an error). `x-websockets` maps each path to its client and server
    messages.
    """
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    listed: dict[str, Any] = {}
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        messages = getattr(getattr(route, "endpoint", None), _MESSAGES_ATTRIBUTE, None)
        if not isinstance(route, APIWebSocketRoute) or not isinstance(messages, WebSocketMessages):
            continue
        inputs: list[tuple[object, JsonSchemaMode, TypeAdapter[Any]]] = [
            ("client", "validation", TypeAdapter(messages.client)),
            ("server", "serialization", TypeAdapter(messages.server)),
            *(
                (index, "serialization", TypeAdapter(t))
                for index, t in enumerate(messages.components)
            ),
        ]
        refs, definitions = TypeAdapter.json_schemas(inputs, ref_template=_REF_TEMPLATE)
        # Without null values, as FastAPI writes its components (`"default": null` goes).
        for name, schema in jsonable_encoder(definitions, exclude_none=True)["$defs"].items():
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"{context.path}: the component {name} would have two schemas")
        listed[str(context.path)] = {
            "description": messages.description,
            "client": refs[("client", "validation")],
            "server": refs[("server", "serialization")],
        }
    if listed:
        document[WEBSOCKETS] = listed
    return document


def document_decimals(document: dict[str, Any]) -> dict[str, Any]:
    """Replace (in place, and return) each bounded decimal's schema with its JSON Schema."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: walk(value) for key, value in node.items()}
        return decimal_schema.translate(node) or node

    document["paths"] = walk(document.get("paths", {}))
    document["components"] = walk(document.get("components", {}))
    return document


def _is_envelope(response: dict[str, Any]) -> bool:
    """Whether an error response is the envelope: it declares no body of its own, or FastAPI's."""
    content = response.get("content")
    if not content:
        return True
    schema = content.get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def _operations(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for item in document.get("paths", {}).values():
        for method in _METHODS:
            if method in item:
                yield item[method]
