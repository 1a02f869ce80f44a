"""Signing in for a JWT, rate limiting, the first-start key, the live guard, no secrets in logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from stocks_api.auth import service as auth_service
from stocks_api.auth.security import ALL_SCOPES, issue_token
from stocks_api.auth.settings import AuthSettings
from stocks_api.main import create_app
from stocks_api.settings import Settings
from tests.conftest import api_client, make_key, make_settings, manual_sim_broker
from tests.factories import order_body, place, resting_limit_body

SECRET = "x" * 40
PASSWORD = "correct horse battery"


def _settings(url: str, **auth: Any) -> Settings:
    settings = make_settings(url)
    options: dict[str, Any] = {"bootstrap_admin_key": False, "token_rate_limit": "5/minute"}
    settings.auth = AuthSettings(jwt_secret=SECRET, **{**options, **auth})
    return settings


async def _sign_in(http: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/api/v1/auth/token", data={"username": "admin", "password": password})


async def test_a_password_buys_a_token_that_authorizes(clean_database: str) -> None:
    app = create_app(_settings(clean_database), broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app), api_client(app) as http:
        assert (await _sign_in(http)).status_code == 401  # no password set yet
        async with app.state.db.sessionmaker() as session:
            await auth_service.set_password(session=session, username="admin", password=PASSWORD)
        response = await _sign_in(http)
        assert response.status_code == 200, response.text
        token = response.json()
        assert token["token_type"] == "bearer"
        assert token["expires_in"] == 900
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert (await http.get("/api/v1/orders", headers=headers)).status_code == 200
        assert (
            await http.post("/api/v1/orders", json=order_body(), headers=headers)
        ).status_code == 201

        wrong = await _sign_in(http, "wrong password")
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "UNAUTHORIZED"


async def test_expired_and_tampered_tokens_are_refused(clean_database: str) -> None:
    app = create_app(_settings(clean_database), broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app), api_client(app) as http:
        expired = issue_token(
            subject="admin",
            scopes=ALL_SCOPES,
            secret=SECRET,
            ttl=timedelta(minutes=15),
            now=datetime.now(UTC) - timedelta(hours=1),
        )
        good = issue_token(
            subject="admin", scopes=ALL_SCOPES, secret=SECRET, ttl=timedelta(minutes=15)
        )
        head, payload, signature = good.split(".")
        tampered = f"{head}.{payload[:-2]}AA.{signature}"
        foreign = issue_token(
            subject="admin", scopes=ALL_SCOPES, secret="y" * 40, ttl=timedelta(minutes=15)
        )
        for token in (expired, tampered, foreign, "not-a-jwt"):
            response = await http.get(
                "/api/v1/orders", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401, token
        ok = await http.get("/api/v1/orders", headers={"Authorization": f"Bearer {good}"})
        assert ok.status_code == 200


async def test_guessing_passwords_is_rate_limited(clean_database: str) -> None:
    # The per-address limit alone (the per-username one: tests/.../test_sign_in_limits.py).
    settings = _settings(clean_database, username_rate_limit="100/minute")
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app), api_client(app) as http:
        statuses = [(await _sign_in(http, f"guess {i}")).status_code for i in range(5)]
        assert statuses == [401] * 5
        limited = await _sign_in(http)
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_the_first_start_prints_an_admin_key_once(
    clean_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(clean_database, bootstrap_admin_key=True)
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app):
        printed = capsys.readouterr()
        keys = [word for word in printed.err.split() if word.startswith("stk_")]
        assert len(keys) == 1, printed.err
        assert keys[0] not in printed.out  # not in the logs
        async with api_client(app, keys[0]) as http:
            assert (await http.post("/api/v1/orders", json=order_body())).status_code == 201
            assert (await http.get("/api/v1/auth/keys")).status_code == 200
    again = create_app(settings, broker_factory=manual_sim_broker)
    async with again.router.lifespan_context(again):
        assert "stk_" not in capsys.readouterr().err


async def test_no_first_start_key_outside_development(
    clean_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(clean_database, bootstrap_admin_key=True)
    settings.environment = settings.environment.PRODUCTION
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app):
        assert "stk_" not in capsys.readouterr().err


async def test_secrets_never_reach_the_logs(
    clean_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(clean_database)
    settings.log.level = "DEBUG"
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app):
        key = await make_key(app)
        async with app.state.db.sessionmaker() as session:
            await auth_service.set_password(session=session, username="admin", password=PASSWORD)
        async with api_client(app, key) as http:
            await http.post("/api/v1/orders", json=order_body())
            await http.get("/api/v1/orders", headers={"X-API-Key": key + "x"})
            token = (await _sign_in(http)).json()["access_token"]
            await http.get("/api/v1/positions", headers={"Authorization": f"Bearer {token}"})
    captured = capsys.readouterr()
    logs = captured.out + captured.err
    assert '"event": "request"' in logs  # the logs were captured
    for secret in (key, key.split("_", 2)[2], token, PASSWORD, SECRET):
        assert secret not in logs


async def test_a_live_account_refuses_orders_unless_allowed(clean_database: str) -> None:
    settings = make_settings(clean_database, account_id="U7654321")
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app), api_client(app, await make_key(app)) as http:
        broker = (await http.get("/api/v1/broker")).json()
        assert (broker["mode"], broker["live_trading_allowed"]) == ("live", False)
        assert "U7654321" in broker["live_reasons"][0]
        refused = await http.post("/api/v1/orders", json=order_body())
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "LIVE_TRADING_DISABLED"
        assert "ALLOW_LIVE_TRADING" in refused.json()["error"]["message"]
        assert (await http.get("/api/v1/orders")).json()["items"] == []  # nothing stored
        modify = await http.patch("/api/v1/orders/1", json={"qty": "2"})
        assert modify.status_code == 403
        assert modify.json()["error"]["code"] == "LIVE_TRADING_DISABLED"
        # Pulling an order is never blocked: this one just does not exist.
        assert (await http.delete("/api/v1/orders/1")).status_code == 404

    settings.allow_live_trading = True
    allowed = create_app(settings, broker_factory=manual_sim_broker)
    async with (
        allowed.router.lifespan_context(allowed),
        api_client(allowed, await make_key(allowed)) as http,
    ):
        assert (await http.get("/api/v1/broker")).json()["live_trading_allowed"] is True
        order = await place(http, **resting_limit_body(allowed.state.broker.engine))
        changed = await http.patch(f"/api/v1/orders/{order['id']}", json={"qty": "2"})
        assert changed.status_code == 200


async def test_a_paper_account_is_reported_as_paper(client: httpx.AsyncClient) -> None:
    broker = (await client.get("/api/v1/broker")).json()
    assert broker["mode"] == "paper"
    assert broker["kind"] == "sim"
    assert broker["connected"] is True
    assert broker["accounts"][0]["account_id"] == "DU1234567"
    assert broker["live_reasons"] == []
