"""A signed-in session outlives an API restart in the embedded default (no AUTH_JWT_SECRET)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from stocks_api.auth import service as auth_service
from stocks_api.auth.models import LocalUser
from stocks_api.core.migrations import upgrade
from stocks_api.main import create_app
from tests.conftest import api_client, make_settings, manual_sim_broker

PASSWORD = "correct horse battery"
CLI = str(Path(sys.executable).parent / "stocks-api")


async def _token(http: httpx.AsyncClient) -> str:
    response = await http.post(
        "/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def _orders_status(http: httpx.AsyncClient, token: str) -> int:
    response = await http.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def test_a_token_stays_valid_across_a_restart_until_the_secret_is_rotated(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'stocks.db'}"
    (tmp_path / "data").mkdir()
    await asyncio.to_thread(upgrade, url)
    settings = make_settings(url)
    assert settings.auth.jwt_secret is None
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app), api_client(app) as http:
        async with app.state.db.sessionmaker() as session:
            await auth_service.set_password(session=session, username="admin", password=PASSWORD)
        token = await _token(http)
    assert (tmp_path / "data" / "jwt-secret").exists()

    restarted = create_app(make_settings(url), broker_factory=manual_sim_broker)
    async with restarted.router.lifespan_context(restarted), api_client(restarted) as http:
        assert await _orders_status(http, token) == 200

    rotated = await asyncio.to_thread(
        subprocess.run,
        [CLI, "rotate-jwt-secret"],  # our own command line
        env={"DATABASE_URL": url, "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "everyone signs in again" in rotated.stdout
    again = create_app(make_settings(url), broker_factory=manual_sim_broker)
    async with again.router.lifespan_context(again), api_client(again) as http:
        assert await _orders_status(http, token) == 401
        assert await _orders_status(http, await _token(http)) == 200


async def test_a_password_hashed_with_older_parameters_is_rehashed_at_sign_in(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'stocks.db'}"
    await asyncio.to_thread(upgrade, url)
    app = create_app(make_settings(url), broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app), api_client(app) as http:
        async with app.state.db.sessionmaker() as session:
            await auth_service.set_password(session=session, username="admin", password=PASSWORD)
            row = await session.get(LocalUser, "admin")
            assert row is not None
            row.password_hash = PasswordHasher().hash(PASSWORD)  # argon2-cffi's default cost
            await session.commit()
        token = await _token(http)
        assert await _orders_status(http, token) == 200
        async with app.state.db.sessionmaker() as session:
            row = await session.get(LocalUser, "admin")
            assert row is not None
            assert row.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert await _orders_status(http, await _token(http)) == 200  # the new hash works
