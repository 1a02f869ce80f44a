"""Numbers are taken exactly or refused, never rounded; JSON bodies mean one thing (issue 18).

Before: qty "1.99999999999999999999999999999" was placed as 2, "1_000" as 1000, Arabic-Indic
and full-width digits were read as numbers, a bare JSON number went through a binary float,
a key given twice kept its last value, and malformed JSON without credentials was a 400
before the 401.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from stocks_api.broker.sim.engine import MatchingEngine
from stocks_api.core.json_body import ExactJsonRoute
from tests.factories import order_body, resting_limit_body

JSON = {"content-type": "application/json"}


async def _no_orders(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/api/v1/orders", params={"status": "all"})).json()
    assert listed["items"] == []


def _refused_field(response: httpx.Response, field: str, says: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["loc"] == ["body", field]
    assert says in error["details"][0]["msg"]
    # The message alone names the field and what is wrong with it.
    assert f"body.{field}" in error["message"]
    assert says in error["message"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1.99999999999999999999999999999", "significant digits"),
        ("1.000000001", "decimal places"),
        ("1_000", "ASCII digits"),
        ("\u0661\u0662", "ASCII digits"),  # Arabic-Indic 12
        ("\uff11\uff10", "ASCII digits"),  # full-width 10
        ("1e3", "ASCII digits"),
        (" 10", "ASCII digits"),
        ("NaN", "ASCII digits"),
        ("", "ASCII digits"),
    ],
)
async def test_a_quantity_is_taken_exactly_or_refused(
    client: httpx.AsyncClient, text: str, says: str
) -> None:
    _refused_field(await client.post("/api/v1/orders", json=order_body(qty=text)), "qty", says)
    await _no_orders(client)


async def test_a_price_with_more_digits_than_a_decimal_keeps_is_refused_not_rounded(
    client: httpx.AsyncClient,
) -> None:
    body = order_body(type="limit", limit_price="190.999999999999999999999999999999")
    _refused_field(await client.post("/api/v1/orders", json=body), "limit_price", "significant")
    await _no_orders(client)


async def test_a_bare_json_number_is_read_from_its_text(
    client: httpx.AsyncClient, engine: MatchingEngine
) -> None:
    # On the price increment (0.01), and with cents (.x3) no binary float holds exactly.
    price = Decimal(resting_limit_body(engine)["limit_price"]).quantize(Decimal("0.1"))
    price += Decimal("0.03")
    body = resting_limit_body(engine, client_order_id="raw-number")
    del body["limit_price"], body["qty"]
    raw = json.dumps(body)[:-1] + f', "limit_price": {price}, "qty": 3}}'
    placed = await client.post("/api/v1/orders", content=raw.encode(), headers=JSON)
    assert placed.status_code == 201, placed.text
    # Through a binary float it would come back as ...2999999999 or so.
    assert placed.json()["limit_price"] == format(price, "f")
    assert placed.json()["qty"] == "3"


@pytest.mark.parametrize(
    "number",
    [
        "190.999999999999999999999999999999",  # 33 digits: a float would make it 191.0
        "1.9999999999999999999999999999999e2",
    ],
)
async def test_a_bare_json_number_too_long_to_keep_is_refused(
    client: httpx.AsyncClient, number: str
) -> None:
    raw = (
        f'{{"symbol": "AAPL", "side": "buy", "qty": "1", "type": "limit", "limit_price": {number}}}'
    )
    refused = await client.post("/api/v1/orders", content=raw.encode(), headers=JSON)
    _refused_field(refused, "limit_price", "significant digits")
    await _no_orders(client)


async def test_a_key_given_twice_is_refused(client: httpx.AsyncClient) -> None:
    raw = b'{"symbol": "AAPL", "side": "buy", "qty": "1", "type": "market", "qty": "100"}'
    refused = await client.post("/api/v1/orders", content=raw, headers=JSON)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["type"] == "duplicate_key"
    assert "'qty' appears more than once" in error["message"]
    await _no_orders(client)
    # Also in a nested object, and on any route with a JSON body.
    nested = b'{"reason": "a", "reason": "b"}'
    halted = await client.post("/api/v1/risk/halt", content=nested, headers=JSON)
    assert halted.status_code == 422, halted.text
    assert (await client.get("/api/v1/risk")).json()["state"] == "active"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
async def test_non_json_number_literals_are_malformed_json(
    client: httpx.AsyncClient, literal: str
) -> None:
    raw = f'{{"symbol": "AAPL", "side": "buy", "type": "market", "qty": {literal}}}'
    refused = await client.post("/api/v1/orders", content=raw.encode(), headers=JSON)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "MALFORMED_JSON"
    await _no_orders(client)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/keys",
        "/api/v1/risk/halt",
        "/api/v1/risk/resume",
        "/api/v1/risk/limits/reset",
        "/api/v1/orders",
    ],
)
async def test_malformed_json_without_credentials_is_401_first(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, path: str
) -> None:
    raw = b'{"reason": '
    unauthenticated = await anonymous.post(path, content=raw, headers=JSON)
    assert unauthenticated.status_code == 401, unauthenticated.text
    authenticated = await client.post(path, content=raw, headers=JSON)
    assert authenticated.status_code == 400, authenticated.text
    assert authenticated.json()["error"]["code"] == "MALFORMED_JSON"


async def test_a_risk_limit_is_taken_exactly_or_refused(client: httpx.AsyncClient) -> None:
    refused = await client.put("/api/v1/risk/limits", json={"max_order_qty": "1_000"})
    _refused_field(refused, "max_order_qty", "ASCII digits")
    raw = b'{"max_order_qty": 1000, "max_order_value": 250000.50}'
    taken = await client.put("/api/v1/risk/limits", content=raw, headers=JSON)
    assert taken.status_code == 200, taken.text
    limits = (await client.get("/api/v1/risk")).json()["limits"]
    assert (limits["max_order_qty"], limits["max_order_value"]) == ("1000", "250000.5")


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    # FastAPI 0.12x copies an included router's routes; later versions keep the router and
    # hold it in a route of its own with an `original_router`.
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


def test_every_api_route_reads_its_json_exactly(app: Any) -> None:
    routes = _api_routes(app.routes)
    assert len(routes) > 30
    plain = [route.path for route in routes if not isinstance(route, ExactJsonRoute)]
    assert plain == []


@pytest.mark.parametrize("raw", [b"0.5", b"1", b'"halt"', b"[]", b"true"])
async def test_a_body_that_is_not_an_object_is_refused_not_read_as_defaults(
    client: httpx.AsyncClient, raw: bytes
) -> None:
    for path in ("/api/v1/risk/halt", "/api/v1/risk/limits/reset"):
        refused = await client.post(path, content=raw, headers=JSON)
        assert refused.status_code == 422, refused.text
    assert (await client.get("/api/v1/risk")).json()["state"] == "active"
