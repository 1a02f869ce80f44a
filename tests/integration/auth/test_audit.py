"""The auth audit trail: sign-ins (failed and refused too) and API key changes, with who,
when and from where, in the database (`GET /api/v1/auth/events`) and in the log."""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from stocks_api.auth import service as auth_service
from stocks_api.auth.security import split_api_key
from stocks_api.auth.settings import AuthSettings
from stocks_api.main import create_app
from tests.conftest import api_client, make_key, make_settings, manual_sim_broker
from tests.integration.test_cli import cli

PASSWORD = "correct horse battery"
AGENT = {"User-Agent": "audit-test/1.0"}


def _from(app: Any, address: str, key: str | None = None) -> httpx.AsyncClient:
    headers = {**AGENT, **({"X-API-Key": key} if key else {})}
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers)


@asynccontextmanager
async def audited_app(database_url: str) -> AsyncIterator[Any]:
    """An app with the admin's password set (made in the test, so capsys sees its log)."""
    settings = make_settings(database_url)
    settings.auth = AuthSettings(
        jwt_secret="x" * 40, bootstrap_admin_key=False, username_rate_limit="3/minute"
    )
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app):
        async with app.state.db.sessionmaker() as session:
            await auth_service.set_password(session=session, username="admin", password=PASSWORD)
        yield app


@pytest.fixture
async def audited(clean_database: str) -> AsyncIterator[Any]:
    async with audited_app(clean_database) as app:
        yield app


async def _events(app: Any, admin: str, **params: Any) -> list[dict[str, Any]]:
    async with api_client(app, admin) as http:
        response = await http.get("/api/v1/auth/events", params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


async def _sign_in(app: Any, address: str, password: str, username: str = "admin") -> int:
    async with _from(app, address) as http:
        response = await http.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        return response.status_code


async def test_sign_ins_are_audited_with_who_when_and_from_where(
    capsys: pytest.CaptureFixture[str], clean_database: str
) -> None:
    async with audited_app(clean_database) as app:
        admin = await make_key(app, name="auditor")
        started = datetime.now(UTC)
        assert await _sign_in(app, "192.0.2.10", PASSWORD) == 200
        assert await _sign_in(app, "192.0.2.11", "wrong") == 401
        assert await _sign_in(app, "192.0.2.12", "wrong", username="mallory") == 401
        for _ in range(2):
            assert await _sign_in(app, "192.0.2.13", "wrong") == 401
        assert await _sign_in(app, "192.0.2.14", PASSWORD) == 429  # over the username's 3/minute

        events = [e for e in await _events(app, admin) if e["kind"].startswith("sign_in")]
        assert [(e["kind"], e["actor"], e["client_address"]) for e in events] == [
            ("sign_in_rate_limited", "admin", "192.0.2.14"),
            ("sign_in_failed", "admin", "192.0.2.13"),
            ("sign_in_failed", "admin", "192.0.2.13"),
            ("sign_in_failed", "mallory", "192.0.2.12"),
            ("sign_in_failed", "admin", "192.0.2.11"),
            ("sign_in", "admin", "192.0.2.10"),
        ]
        for event in events:
            assert event["user_agent"] == "audit-test/1.0"
            assert len(event["request_id"]) == 32
            at = datetime.fromisoformat(event["created_at"])
            assert started - timedelta(seconds=1) <= at <= datetime.now(UTC)
        assert events[0]["reason"] == "too many attempts per username"
        assert events[1]["reason"] == "wrong username or password"
        assert events[-1]["reason"] is None

        logged = [
            json.loads(line) for line in capsys.readouterr().out.splitlines() if '"audit"' in line
        ]
        kinds = [(line["event"], line["actor"], line["client"]) for line in logged]
        assert ("sign_in_failed", "mallory", "192.0.2.12") in kinds
        assert ("sign_in_rate_limited", "admin", "192.0.2.14") in kinds
        assert all(PASSWORD not in json.dumps(line) for line in logged)


async def test_a_flood_of_refused_attempts_is_logged_but_stored_once_a_minute(
    capsys: pytest.CaptureFixture[str], clean_database: str
) -> None:
    async with audited_app(clean_database) as app:
        admin = await make_key(app)
        for _ in range(3):
            await _sign_in(app, "192.0.2.20", "wrong")
        for _ in range(10):
            assert await _sign_in(app, "192.0.2.20", "wrong") == 429
        limited = await _events(app, admin, kind="sign_in_rate_limited")
        assert len(limited) == 1
        lines = [
            line for line in capsys.readouterr().out.splitlines() if "sign_in_rate_limited" in line
        ]
        assert len(lines) == 10


async def test_key_changes_are_audited_with_the_admin_who_made_them(audited: Any) -> None:
    app = audited
    admin = await make_key(app, name="ops")
    async with _from(app, "192.0.2.30", admin) as http:
        made = await http.post("/api/v1/auth/keys", json={"name": "bot", "scopes": ["read"]})
        assert made.status_code == 201
        key_id = made.json()["key_id"]
        assert (await http.delete(f"/api/v1/auth/keys/{key_id}")).status_code == 200
        assert (await http.delete(f"/api/v1/auth/keys/{key_id}")).status_code == 200  # again

    events = await _events(app, admin)
    changes = [e for e in events if e["actor"] == "key:ops"]
    assert [(e["kind"], e["actor"], e["key_id"], e["client_address"]) for e in changes] == [
        ("api_key_revoked", "key:ops", key_id, "192.0.2.30"),
        ("api_key_created", "key:ops", key_id, "192.0.2.30"),
    ]
    assert changes[1]["reason"] == "'bot' with scopes read"
    assert made.json()["key"] not in json.dumps(events)  # never the secret


async def test_the_cli_is_audited_as_the_os_user(audited: Any, tmp_path: Path) -> None:
    app = audited
    admin = await make_key(app)
    url = app.state.settings.database.url
    made = cli(url, tmp_path, "create-api-key", "--name", "cron", "--scopes", "read")
    parts = split_api_key(made.split()[-1])
    assert parts is not None, made
    key_id = parts[0]
    cli(url, tmp_path, "revoke-api-key", key_id)
    events = await _events(app, admin)
    actor = f"cli:{getpass.getuser()}@{socket.gethostname()}"
    assert [(e["kind"], e["actor"], e["key_id"], e["client_address"]) for e in events[:2]] == [
        ("api_key_revoked", actor, key_id, None),
        ("api_key_created", actor, key_id, None),
    ]


async def test_the_events_are_for_admins_and_paginated(audited: Any) -> None:
    app = audited
    admin = await make_key(app)
    reader = await make_key(app, "read", name="reader")
    for i in range(5):
        await _sign_in(app, f"192.0.2.{40 + i}", "wrong", username=f"user{i}")
    async with api_client(app, reader) as http:
        assert (await http.get("/api/v1/auth/events")).status_code == 403
    async with api_client(app) as http:
        assert (await http.get("/api/v1/auth/events")).status_code == 401
    async with api_client(app, admin) as http:
        seen, cursor = [], None
        while True:
            params = {
                "kind": "sign_in_failed",
                "limit": 2,
                **({"cursor": cursor} if cursor else {}),
            }
            page = (await http.get("/api/v1/auth/events", params=params)).json()
            seen.extend(event["actor"] for event in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [f"user{i}" for i in reversed(range(5))]
        bad = await http.get("/api/v1/auth/events", params={"cursor": "nonsense"})
        assert bad.status_code == 422
        assert (await http.get("/api/v1/auth/events", params={"kind": "bogus"})).status_code == 422
        signed_in = (await http.get("/api/v1/auth/events", params={"kind": "sign_in"})).json()
        assert signed_in["items"] == []
        every = (await http.get("/api/v1/auth/events")).json()["items"]
        assert [e["kind"] for e in every][-2:] == ["api_key_created"] * 2  # the two keys above
        assert {e["actor"] for e in every if e["kind"] == "api_key_created"} == {"test"}
