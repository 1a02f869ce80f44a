"""A standby refuses API key changes, as every other change; reads and sign-ins work."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from stocks_api.auth import service as auth_service
from stocks_api.auth.models import ApiKey, AuthEvent
from tests.integration.connection.conftest import instance, instance_settings
from tests.integration.connection.test_two_instances import assert_read_only


async def _count(app: FastAPI, model: type[Any]) -> int:
    async with app.state.db.sessionmaker() as session:
        count: int = await session.scalar(select(func.count()).select_from(model)) or 0
        return count


async def test_the_standby_refuses_to_create_or_revoke_keys(clean_database: str) -> None:
    async with (
        instance(instance_settings(clean_database)) as owner,
        instance(instance_settings(clean_database)) as standby,
    ):
        made = await owner.http.post("/api/v1/auth/keys", json={"name": "bot", "scopes": ["read"]})
        assert made.status_code == 201
        key_id = made.json()["key_id"]
        keys, events = await _count(standby.app, ApiKey), await _count(standby.app, AuthEvent)

        assert_read_only(
            await standby.http.post("/api/v1/auth/keys", json={"name": "x", "scopes": ["read"]})
        )
        assert_read_only(await standby.http.delete(f"/api/v1/auth/keys/{key_id}"))
        assert (await _count(standby.app, ApiKey), await _count(standby.app, AuthEvent)) == (
            keys,
            events,
        ), "nothing written"

        # Reading works on a standby: the keys and the audit trail, from the database.
        listed = (await standby.http.get("/api/v1/auth/keys")).json()
        assert key_id in {k["key_id"] for k in listed}
        assert next(k for k in listed if k["key_id"] == key_id)["revoked_at"] is None
        audit = await standby.http.get("/api/v1/auth/events")
        assert audit.status_code == 200
        assert audit.json()["items"][0]["key_id"] == key_id

        # Signing in is no change: the dashboard can read from a standby too.
        async with standby.app.state.db.sessionmaker() as session:
            await auth_service.set_password(session=session, username="admin", password="p" * 12)
        token = await standby.http.post(
            "/api/v1/auth/token", data={"username": "admin", "password": "p" * 12}
        )
        assert token.status_code == 200, token.text

        # The owner still manages keys.
        assert (await owner.http.delete(f"/api/v1/auth/keys/{key_id}")).status_code == 200
