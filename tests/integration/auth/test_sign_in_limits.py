"""Sign-in limits per username as well as per address; a short wait lets the real user in;
the counts live in Redis when REDIS_URL is set, so every process shares them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from stocks_api.auth import service as auth_service
from stocks_api.auth.ratelimit import SignInLimiter
from stocks_api.auth.settings import AuthSettings
from stocks_api.main import create_app
from stocks_api.settings import Settings
from tests.conftest import make_settings, manual_sim_broker
from tests.redis_servers import free_port, shared_redis_url

PASSWORD = "correct horse battery"


def _settings(url: str, **auth: Any) -> Settings:
    settings = make_settings(url)
    settings.auth = AuthSettings(jwt_secret="x" * 40, bootstrap_admin_key=False, **auth)
    return settings


@asynccontextmanager
async def _app(settings: Settings) -> AsyncIterator[Any]:
    app = create_app(settings, broker_factory=manual_sim_broker)
    async with app.router.lifespan_context(app):
        async with app.state.db.sessionmaker() as session:
            await auth_service.set_password(session=session, username="admin", password=PASSWORD)
        yield app


def _from(app: Any, address: str) -> httpx.AsyncClient:
    """A client of `app` connecting from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def _sign_in(
    app: Any, address: str, password: str, username: str = "admin"
) -> httpx.Response:
    async with _from(app, address) as http:
        return await http.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )


def _assert_limited(response: httpx.Response, limit: str, longest: int) -> int:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    assert error["request_id"] == response.headers["x-request-id"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= longest
    assert error["details"] == [{"limit": limit, "retry_after": retry_after}]
    return retry_after


async def test_guesses_from_many_addresses_are_limited_per_username(clean_database: str) -> None:
    async with _app(_settings(clean_database)) as app:
        answers = [await _sign_in(app, f"198.51.100.{i}", f"guess {i}") for i in range(8)]
        assert [a.status_code for a in answers] == [401, 401, 401] + [429] * 5
        for refused in answers[3:]:
            _assert_limited(refused, "username", 10)
        # Another name is not held up by the guesses at this one.
        other = await _sign_in(app, "198.51.100.99", "guess", username="somebody")
        assert other.status_code == 401


async def test_the_real_user_gets_in_after_a_short_wait(clean_database: str) -> None:
    settings = _settings(clean_database, username_rate_limit="3/2seconds")
    async with _app(settings) as app:
        for i in range(3):
            assert (await _sign_in(app, f"203.0.113.{i}", "guess")).status_code == 401
        # The real user, from their own address, with the right password: a short wait.
        wait = _assert_limited(await _sign_in(app, "192.0.2.7", PASSWORD), "username", 2)
        # Trying again meanwhile does not lengthen it: refused attempts are not counted.
        for _ in range(3):
            _assert_limited(await _sign_in(app, "203.0.113.9", "guess"), "username", 2)
        await asyncio.sleep(wait + 0.1)
        assert (await _sign_in(app, "192.0.2.7", PASSWORD)).status_code == 200
        # Signing in cleared the username's count: a typo now is just a wrong password.
        for _ in range(3):
            assert (await _sign_in(app, "192.0.2.7", "typo")).status_code == 401


async def test_refusals_per_username_cost_an_address_nothing(clean_database: str) -> None:
    settings = _settings(clean_database, username_rate_limit="1/minute")
    async with _app(settings) as app:
        assert (await _sign_in(app, "192.0.2.1", "guess")).status_code == 401
        for _ in range(6):
            _assert_limited(await _sign_in(app, "192.0.2.1", "guess"), "username", 60)
        # Still four of the address's five attempts a minute left.
        for i in range(4):
            answer = await _sign_in(app, "192.0.2.1", "guess", username=f"user{i}")
            assert answer.status_code == 401
        _assert_limited(await _sign_in(app, "192.0.2.1", "guess", username="user9"), "address", 60)


# -- Redis ----------------------------------------------------------------------------


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so runs never see each other's counts."""
    return f"stocks-test:{uuid.uuid4().hex[:12]}"


async def _keys(url: str, prefix: str) -> list[str]:
    client = Redis.from_url(url, decode_responses=True)
    try:
        return [key async for key in client.scan_iter(f"{prefix}:*")]
    finally:
        await client.aclose()


async def test_two_processes_share_the_counts_through_redis(
    clean_database: str, prefix: str
) -> None:
    url = shared_redis_url()
    settings = _settings(clean_database)
    settings.redis_url = url
    async with _app(settings) as one, _app(settings) as two:
        for app in (one, two):
            assert app.state.sign_in_limiter.backend == "redis"  # REDIS_URL picks Redis
            await app.state.sign_in_limiter.close()
            # Each instance its own limiter and connections, as two processes have.
            app.state.sign_in_limiter = SignInLimiter(
                per_address="5/minute",
                per_username="3/10seconds;10/minute",
                redis_url=url,
                key_prefix=prefix,
            )
        try:
            assert (await _sign_in(one, "198.51.100.1", "guess")).status_code == 401
            assert (await _sign_in(two, "198.51.100.2", "guess")).status_code == 401
            assert (await _sign_in(one, "198.51.100.3", "guess")).status_code == 401
            _assert_limited(await _sign_in(two, "198.51.100.4", "guess"), "username", 10)
            _assert_limited(await _sign_in(one, "198.51.100.5", "guess"), "username", 10)
            assert await _keys(url, prefix), "the counts are in Redis"
        finally:
            for app in (one, two):
                await app.state.sign_in_limiter.close()


async def test_the_per_address_count_is_shared_too(prefix: str) -> None:
    url = shared_redis_url()
    limiters = [
        SignInLimiter(
            per_address="2/minute", per_username="100/minute", redis_url=url, key_prefix=prefix
        )
        for _ in range(2)
    ]
    try:
        assert await limiters[0].admit(address="192.0.2.1", username="a") is None
        assert await limiters[1].admit(address="192.0.2.1", username="b") is None
        refused = await limiters[0].admit(address="192.0.2.1", username="c")
        assert refused is not None
        assert refused.scope == "address"
        assert 1 <= refused.retry_after <= 60
        assert await limiters[1].admit(address="192.0.2.2", username="d") is None
    finally:
        for limiter in limiters:
            await limiter.close()


async def test_without_redis_the_process_counts_stand_in(prefix: str) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    limiter = SignInLimiter(
        per_address="5/minute", per_username="3/10seconds", redis_url=down, key_prefix=prefix
    )
    try:
        for i in range(3):
            assert await limiter.admit(address=f"192.0.2.{i}", username="admin") is None
        refused = await limiter.admit(address="192.0.2.9", username="admin")
        assert refused is not None
        assert refused.scope == "username"
    finally:
        await limiter.close()
