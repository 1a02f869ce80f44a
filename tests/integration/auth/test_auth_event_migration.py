"""The auth_event table is made by its migration (0006), as the model says, on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from stocks_api.auth.models import AuthEvent
from stocks_api.core.migrations import alembic_config, upgrade
from tests.databases import fresh_database


def _only_auth_event(name: str | None, kind: str, _parent: object) -> bool:
    return kind != "table" or name == "auth_event"


def _state(connection: Connection) -> tuple[list[object], set[str]]:
    only = MetaData(naming_convention=AuthEvent.metadata.naming_convention)
    AuthEvent.__table__.to_metadata(only)
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": _only_auth_event}
    )
    return compare_metadata(context, only), set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[list[object], set[str]]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        result = await conn.run_sync(_state)
    await engine.dispose()
    return result


async def _insert_kind(url: str, kind: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO auth_event (kind, actor, created_at)"
                    " VALUES (:kind, 'x', CURRENT_TIMESTAMP)"
                ),
                {"kind": kind},
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_the_migration_makes_auth_event_as_the_model_and_drops_it(
    backend: str, tmp_path: Path
) -> None:
    with fresh_database(backend, tmp_path) as url:
        await asyncio.to_thread(upgrade, url)
        diff, tables = await _inspect(url)
        assert "auth_event" in tables
        assert diff == [], f"auth_event and its migration disagree: {diff}"
        await _insert_kind(url, "sign_in")
        with pytest.raises(IntegrityError):  # the kinds are checked by the database
            await _insert_kind(url, "sign_in_maybe")

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0005")
        _, tables = await _inspect(url)
        assert "auth_event" not in tables
        assert "api_key" in tables  # only this migration was undone
