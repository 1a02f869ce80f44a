"""Bad input of every kind gets a 4xx error envelope, and nothing is written or sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from stocks_api.broker.sim.engine import MatchingEngine
from tests.factories import count_orders, order_body, place

BAD_ORDERS: list[tuple[str, dict[str, Any], int, str]] = [
    ("negative qty", order_body(qty="-1"), 422, "VALIDATION_ERROR"),
    ("zero qty", order_body(qty="0"), 422, "VALIDATION_ERROR"),
    ("qty not a number", order_body(qty="ten"), 422, "VALIDATION_ERROR"),
    ("qty boolean", order_body(qty=True), 422, "VALIDATION_ERROR"),
    ("qty list", order_body(qty=[1]), 422, "VALIDATION_ERROR"),
    ("qty NaN", order_body(qty="NaN"), 422, "VALIDATION_ERROR"),
    ("qty infinite", order_body(qty="Infinity"), 422, "VALIDATION_ERROR"),
    ("absurd qty", order_body(qty="1e30"), 422, "VALIDATION_ERROR"),
    ("qty above the sanity cap", order_body(qty="10000001"), 422, "VALIDATION_ERROR"),
    ("qty too precise", order_body(qty="0.000000001"), 422, "VALIDATION_ERROR"),
    ("limit without limit_price", order_body(type="limit"), 422, "VALIDATION_ERROR"),
    ("stop without stop_price", order_body(type="stop"), 422, "VALIDATION_ERROR"),
    (
        "stop_limit without limit_price",
        order_body(type="stop_limit", stop_price="10"),
        422,
        "VALIDATION_ERROR",
    ),
    ("market with limit_price", order_body(limit_price="10"), 422, "VALIDATION_ERROR"),
    (
        "limit with stop_price",
        order_body(type="limit", limit_price="10", stop_price="9"),
        422,
        "VALIDATION_ERROR",
    ),
    ("negative limit price", order_body(type="limit", limit_price="-5"), 422, "VALIDATION_ERROR"),
    ("absurd limit price", order_body(type="limit", limit_price="1e12"), 422, "VALIDATION_ERROR"),
    ("ioc stop", order_body(type="stop", stop_price="10", tif="ioc"), 422, "VALIDATION_ERROR"),
    ("unknown symbol", order_body(symbol="ZZZZ"), 422, "UNKNOWN_SYMBOL"),
    ("malformed symbol", order_body(symbol="AA PL!"), 422, "VALIDATION_ERROR"),
    ("empty symbol", order_body(symbol=""), 422, "VALIDATION_ERROR"),
    ("symbol too long", order_body(symbol="A" * 13), 422, "VALIDATION_ERROR"),
    ("symbol number", order_body(symbol=123), 422, "VALIDATION_ERROR"),
    ("unknown side", order_body(side="hold"), 422, "VALIDATION_ERROR"),
    ("unknown type", order_body(type="pegged"), 422, "VALIDATION_ERROR"),
    ("unknown tif", order_body(tif="fok"), 422, "VALIDATION_ERROR"),
    ("outside_rth not boolean", order_body(outside_rth="yes"), 422, "VALIDATION_ERROR"),
    ("unknown field", order_body(colour="red"), 422, "VALIDATION_ERROR"),
    ("missing side", {"symbol": "AAPL", "qty": "1", "type": "market"}, 422, "VALIDATION_ERROR"),
    ("client_order_id with spaces", order_body(client_order_id="a b"), 422, "VALIDATION_ERROR"),
    ("client_order_id too long", order_body(client_order_id="x" * 65), 422, "VALIDATION_ERROR"),
    ("body is a list", [order_body()], 422, "VALIDATION_ERROR"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [pytest.param(body, status, code, id=name) for name, body, status, code in BAD_ORDERS],
)
async def test_bad_order_is_refused_and_nothing_written(
    client: httpx.AsyncClient, engine: MatchingEngine, body: Any, status: int, code: str
) -> None:
    response = await client.post("/api/v1/orders", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    if status == 422 and code == "VALIDATION_ERROR":
        assert error["details"], "validation errors name the offending fields"
        assert all({"loc", "msg", "type"} <= set(d) for d in error["details"])
    assert await count_orders(client) == 0
    assert engine.open_orders() == []


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        pytest.param(
            b'{"symbol": "AAPL", "side":', {"content-type": "application/json"}, id="truncated"
        ),
        pytest.param(b"not json at all", {"content-type": "application/json"}, id="garbage"),
        pytest.param(b"", {"content-type": "application/json"}, id="empty"),
        pytest.param(b"symbol=AAPL", {"content-type": "text/plain"}, id="not-json-type"),
    ],
)
async def test_malformed_body_is_a_4xx(
    client: httpx.AsyncClient, content: bytes, headers: dict[str, str]
) -> None:
    response = await client.post("/api/v1/orders", content=content, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"] in {"MALFORMED_JSON", "VALIDATION_ERROR"}
    assert await count_orders(client) == 0


async def test_symbol_is_case_insensitive(client: httpx.AsyncClient) -> None:
    order = await place(client, symbol=" aapl ")
    assert order["symbol"] == "AAPL"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/orders/abc", 422),
        ("/api/v1/orders/0", 422),
        ("/api/v1/orders/-3", 422),
        ("/api/v1/orders/99999999999999999999999", 422),
        ("/api/v1/orders/424242", 404),
        ("/api/v1/orders?status=bogus", 422),
        ("/api/v1/orders?limit=0", 422),
        ("/api/v1/orders?limit=100000", 422),
        ("/api/v1/orders?since=yesterday", 422),
        ("/api/v1/orders?cursor=not-a-cursor", 422),
        ("/api/v1/orders?side=up", 422),
        ("/api/v1/orders?symbl=AAPL", 422),
        ("/api/v1/fills?order_id=x", 422),
        ("/api/v1/fills?cursor=%%%", 422),
        ("/api/v1/nowhere", 404),
    ],
)
async def test_bad_reads_are_4xx_envelopes(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"code", "message", "details", "request_id"}


async def test_bad_modify_and_cancel_targets(client: httpx.AsyncClient) -> None:
    patch_missing = await client.patch("/api/v1/orders/424242", json={"qty": "1"})
    assert patch_missing.status_code == 404
    patch_garbage = await client.patch(
        "/api/v1/orders/1", content=b"{", headers={"content-type": "application/json"}
    )
    assert patch_garbage.status_code == 400
    patch_negative = await client.patch("/api/v1/orders/1", json={"qty": "-1"})
    assert patch_negative.status_code == 422
    delete_missing = await client.delete("/api/v1/orders/424242")
    assert delete_missing.status_code == 404
    wrong_method = await client.put("/api/v1/orders/1", json={})
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
