"""Signing in costs one argon2 check whether or not the username exists, so the time of
the answer does not tell which usernames do."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from stocks_api.auth import security
from stocks_api.auth import service as auth_service
from stocks_api.auth.settings import AuthSettings
from stocks_api.main import create_app
from tests.conftest import api_client, make_settings, manual_sim_broker

PASSWORD = "correct horse battery"


class CountingHasher(PasswordHasher):
    """argon2 as the app uses it, counting the passwords it checks."""

    __slots__ = ("checked",)

    def __init__(self) -> None:
        parameters = security.PASSWORD_PARAMETERS
        super().__init__(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost,
            parallelism=parameters.parallelism,
        )
        self.checked = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.checked += 1
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(security, "_password_hasher", counting)
    return counting


async def _timed(http: httpx.AsyncClient, username: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = await http.post(
        "/api/v1/auth/token", data={"username": username, "password": "wrong guess"}
    )
    return response.status_code, time.perf_counter() - started


async def test_an_unknown_username_costs_a_password_check_as_a_known_one_does(
    clean_database: str, hasher: CountingHasher
) -> None:
    settings = make_settings(clean_database)
    settings.auth = AuthSettings(
        bootstrap_admin_key=False, token_rate_limit="100/minute", username_rate_limit="100/minute"
    )
    app: Any = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app), api_client(app) as http:
        # The admin exists but has no password yet: refused after a check all the same.
        before = hasher.checked
        assert (await _timed(http, "admin"))[0] == 401
        assert hasher.checked == before + 1

        async with app.state.db.sessionmaker() as session:
            await auth_service.set_password(session=session, username="admin", password=PASSWORD)
        before = hasher.checked
        assert (await _timed(http, "admin"))[0] == 401
        assert hasher.checked == before + 1, "a wrong password is checked once"
        assert (await _timed(http, "nobody"))[0] == 401
        assert hasher.checked == before + 2, "an unknown username is checked once as well"

        # And it takes about as long: within generous bounds (the machine is shared).
        known, unknown = [], []
        for _ in range(3):
            known.append((await _timed(http, "admin"))[1])
            unknown.append((await _timed(http, "nobody"))[1])
        ratio = statistics.median(unknown) / statistics.median(known)
        assert 0.3 < ratio < 3, (known, unknown)


def test_the_dummy_hash_is_made_like_a_real_one() -> None:
    dummy = security.dummy_password_hash()
    assert dummy is security.dummy_password_hash()  # made once per process
    real = security.hash_password(PASSWORD)
    # The same algorithm and cost parameters, so checking against it costs the same.
    assert dummy.rsplit("$", 2)[0] == real.rsplit("$", 2)[0]
    assert not security.password_matches(PASSWORD, dummy)
