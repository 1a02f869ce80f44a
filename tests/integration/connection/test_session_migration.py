"""The broker_session table is made by its migration, as the model says, on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from stocks_api.connection.models import BrokerSession
from stocks_api.core.migrations import alembic_config, upgrade
from tests.databases import fresh_database


def _only_broker_session(name: str | None, kind: str, _parent: object) -> bool:
    return kind != "table" or name == "broker_session"


def _state(connection: Connection) -> tuple[list[object], set[str]]:
    # Compare this model's table alone: a diff elsewhere is another test's business.
    only = MetaData(naming_convention=BrokerSession.metadata.naming_convention)
    BrokerSession.__table__.to_metadata(only)
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": _only_broker_session}
    )
    return compare_metadata(context, only), set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[list[object], set[str]]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        result = await conn.run_sync(_state)
    await engine.dispose()
    return result


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_the_migration_makes_broker_session_as_the_model_and_drops_it(
    backend: str, tmp_path: Path
) -> None:
    with fresh_database(backend, tmp_path) as url:
        await asyncio.to_thread(upgrade, url)
        diff, tables = await _inspect(url)
        assert "broker_session" in tables
        assert diff == [], f"broker_session and its migration disagree: {diff}"

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0004")
        _, tables = await _inspect(url)
        assert "broker_session" not in tables
        assert "order" in tables  # only this migration was undone
