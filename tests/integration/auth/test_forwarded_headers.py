"""X-Forwarded-For counts only from the proxies FORWARDED_ALLOW_IPS names: against a real
`stocks-api serve` (uvicorn) on a loopback port, as `make run` and compose start it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.api_servers import ApiServer, api_server


def _guess(server: ApiServer, i: int, forwarded: str) -> httpx.Response:
    # A new username every time: only the per-address limit can refuse these.
    return httpx.post(
        f"{server.url}/api/v1/auth/token",
        data={"username": f"user{i}", "password": "guess"},
        headers={"X-Forwarded-For": forwarded},
    )


def _addresses(server: ApiServer, key: str) -> list[Any]:
    response = httpx.get(
        f"{server.url}/api/v1/auth/events", headers={"X-API-Key": key}, params={"limit": 500}
    )
    assert response.status_code == 200, response.text
    return [e["client_address"] for e in response.json()["items"] if e["kind"] != "api_key_created"]


def test_by_default_no_forwarded_header_is_believed(tmp_path: Path) -> None:
    # What the issue saw: eight guesses, each naming a new address, all answered 401
    # (uvicorn's own default believed anyone on 127.0.0.1). FORWARDED_ALLOW_IPS unset.
    with api_server(tmp_path) as server:
        answers = [_guess(server, i, f"203.0.113.{i}") for i in range(8)]
        assert [a.status_code for a in answers] == [401] * 5 + [429] * 3
        assert answers[5].json()["error"]["code"] == "RATE_LIMITED"
        assert int(answers[5].headers["retry-after"]) >= 1
        assert set(_addresses(server, server.admin_key())) == {"127.0.0.1"}


def test_a_configured_proxy_is_believed(tmp_path: Path) -> None:
    # Read from .env in the working folder, as `make run` reads it.
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / ".env").write_text("FORWARDED_ALLOW_IPS=127.0.0.1\n")
    with api_server(tmp_path) as server:
        # Behind the proxy each client has its own count.
        answers = [_guess(server, i, f"203.0.113.{i}") for i in range(8)]
        assert [a.status_code for a in answers] == [401] * 8
        # The address the proxy appended (the last one) is the client's; what the client
        # itself wrote before it is not believed.
        assert _guess(server, 9, "10.9.9.9, 198.51.100.7").status_code == 401
        addresses = _addresses(server, server.admin_key())
        assert addresses[0] == "198.51.100.7"
        assert set(addresses[1:]) == {f"203.0.113.{i}" for i in range(8)}


def test_a_proxy_elsewhere_is_not_believed_from_here(tmp_path: Path) -> None:
    with api_server(tmp_path, FORWARDED_ALLOW_IPS="10.0.0.5,172.29.71.0/24") as server:
        answers = [_guess(server, i, f"203.0.113.{i}") for i in range(6)]
        assert [a.status_code for a in answers] == [401] * 5 + [429]
        assert set(_addresses(server, server.admin_key())) == {"127.0.0.1"}
