"""The NUL character is refused with 422 everywhere (issue 18): PostgreSQL cannot store it.

Before, a NUL in the kill switch's reason was a 500 on PostgreSQL and trading stayed active.
"""

from __future__ import annotations

import httpx
import pytest

from tests.factories import order_body

NUL = "\u0000"


def _refused(response: httpx.Response, where: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert "NUL" in error["message"]
    assert error["details"][0]["loc"] == [where]
    assert error["request_id"] == response.headers["x-request-id"]


async def test_a_nul_in_the_kill_switchs_reason_is_refused_and_the_switch_still_works(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.post(
        "/api/v1/risk/halt", json={"reason": f"stop{NUL}now", "cancel_open_orders": True}
    )
    _refused(refused, "body")
    assert (await client.get("/api/v1/risk")).json()["state"] == "active"
    halted = await client.post("/api/v1/risk/halt", json={"reason": "stop now"})
    assert halted.status_code == 200, halted.text
    assert (await client.get("/api/v1/risk")).json()["state"] == "halted"
    _refused(await client.post("/api/v1/risk/resume", json={"reason": f"go{NUL}"}), "body")
    _refused(
        await client.put("/api/v1/risk/limits", json={"max_order_qty": "5", "reason": NUL}),
        "body",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/by-client-id/a%00b",
        "/api/v1/accounts/DU%00/summary",
        "/api/v1/accounts/DU%00/pnl",
        "/api/v1/accounts/DU%00/history",
    ],
)
async def test_a_nul_in_a_path_is_refused(client: httpx.AsyncClient, path: str) -> None:
    _refused(await client.get(path), "path")


async def test_a_nul_in_a_query_a_form_or_an_order_is_refused(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    _refused(await client.get("/api/v1/positions", params={"account_id": f"DU{NUL}"}), "query")
    _refused(await client.get("/api/v1/positions/history?account_id=DU%00"), "query")
    _refused(await client.delete("/api/v1/auth/keys/a%00"), "path")
    form = {"username": f"admin{NUL}", "password": "x"}
    _refused(await anonymous.post("/api/v1/auth/token", data=form), "body")
    _refused(
        await client.post("/api/v1/orders", json=order_body(client_order_id=f"a{NUL}")), "body"
    )
    listed = (await client.get("/api/v1/orders", params={"status": "all"})).json()
    assert listed["items"] == []  # nothing was written


async def test_an_escaped_backslash_before_u0000_is_ordinary_text(
    client: httpx.AsyncClient,
) -> None:
    # JSON "\\u0000" is a backslash and the five characters u0000, not a NUL.
    response = await client.post(
        "/api/v1/risk/halt",
        content=b'{"reason": "path C:\\\\u0000"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"]["reason"] == "path C:\\u0000"


async def test_a_lone_surrogate_is_refused_and_a_pair_is_ordinary_text(
    client: httpx.AsyncClient,
) -> None:
    # JSON may escape half of a UTF-16 pair; no UTF-8 database can store that alone, and
    # pydantic refuses it in every text field (string_unicode).
    refused = await client.post(
        "/api/v1/risk/halt",
        content=b'{"reason": "stop \\ud800 now", "cancel_open_orders": true}',
        headers={"content-type": "application/json"},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"][0]["type"] == "string_unicode"
    assert (await client.get("/api/v1/risk")).json()["state"] == "active"
    halted = await client.post(
        "/api/v1/risk/halt",
        content=b'{"reason": "stop \\ud83d\\uded1 now"}',
        headers={"content-type": "application/json"},
    )
    assert halted.status_code == 200, halted.text
    assert (await client.get("/api/v1/risk")).json()["state"] == "halted"
