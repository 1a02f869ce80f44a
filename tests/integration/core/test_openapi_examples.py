"""The example request body of every operation is a valid request (Swagger UI's "Try it out").

For each operation with a JSON body this takes the body Swagger UI would offer: the media
type's explicit example, else one built from the schema as Swagger UI builds it (a schema's
first `examples` entry, else its `default`, its first `enum` value, or a placeholder of its
type: "string", 0, true; an object from all its properties, an array of one item). It sends
that body to the app with an admin key and fails on a 422. A path parameter is an id that
does not exist, so a 404 (or a 409) is an acceptable answer; so is any 2xx.

The form body of `POST /auth/token` is not a JSON example: Swagger UI shows its fields
empty, to be filled in.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

JSON = "application/json"
ACCEPTED = {200, 201, 202, 204, 404, 409}
_PLACEHOLDERS = {"string": "string", "integer": 0, "number": 0, "boolean": True, "null": None}


def sample(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """The value Swagger UI's sampler makes of `schema` (see the module docstring)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return sample(
            {**components[name], **{k: v for k, v in schema.items() if k != "$ref"}}, components
        )
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combined in ("allOf", "anyOf", "oneOf"):
        options = [s for s in schema.get(combined, []) if s.get("type") != "null"]
        if options:
            return sample(options[0], components)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        return {
            name: sample(prop, components)
            for name, prop in schema.get("properties", {}).items()
            if not prop.get("readOnly")
        }
    if kind == "array":
        return [sample(schema.get("items", {}), components)]
    return _PLACEHOLDERS[kind]


def example_body(operation: dict[str, Any], components: dict[str, Any]) -> Any:
    media = operation["requestBody"]["content"][JSON]
    if "example" in media:
        return media["example"]
    if media.get("examples"):
        return next(iter(media["examples"].values()))["value"]
    return sample(media["schema"], components)


def json_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if JSON in content:
                found.append((method, path, operation))
    return found


async def test_the_document_has_operations_with_bodies(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operations = {(m, p) for m, p, _ in json_operations(document)}
    assert ("post", "/api/v1/orders") in operations
    assert ("patch", "/api/v1/orders/{order_id}") in operations


async def test_the_order_example_is_a_market_order_without_prices(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    components = document["components"]["schemas"]
    [operation] = [
        o for m, p, o in json_operations(document) if (m, p) == ("post", "/api/v1/orders")
    ]
    assert example_body(operation, components) == {
        "symbol": "AAPL",
        "side": "buy",
        "qty": "10",
        "type": "market",
    }


async def test_every_example_body_is_a_valid_request(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    components = document["components"]["schemas"]
    answers = {}
    for method, path, operation in json_operations(document):
        url = re.sub(r"\{[^}]+\}", "999999", path)  # no such id: 404 is fine
        body = example_body(operation, components)
        response = await client.request(method.upper(), url, json=body)
        answers[f"{method.upper()} {path}"] = (response.status_code, body, response.text[:300])
    refused = {op: answer for op, answer in answers.items() if answer[0] not in ACCEPTED}
    assert not refused, refused
    # The order example was placed: a market order, accepted.
    assert answers["POST /api/v1/orders"][0] == 201
