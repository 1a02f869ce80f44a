"""Alembic owns the schema: the same migrations build it on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from stocks_api.core.database import Base
from stocks_api.core.migrations import alembic_config, upgrade
from tests.databases import fresh_database


def _diff_and_tables(connection: Connection) -> tuple[list[object], set[str]]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata), set(inspect(connection).get_table_names())


async def _inspect(url: str) -> tuple[list[object], set[str]]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        result = await conn.run_sync(_diff_and_tables)
    await engine.dispose()
    return result


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_migrations_match_the_models_and_round_trip(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        await _run_sync(upgrade, url)
        diff, tables = await _inspect(url)
        assert {"order", "order_event", "fill", "alembic_version"} <= tables
        assert diff == [], f"models and migrations disagree: {diff}"

        await _run_sync(command.downgrade, alembic_config(url), "base")
        _, tables = await _inspect(url)
        assert tables <= {"alembic_version"}

        await _run_sync(upgrade, url)
        diff, _ = await _inspect(url)
        assert diff == []


async def _run_sync(func: Callable[..., object], *args: object) -> None:
    # Alembic's env.py starts its own event loop, so run it off this test's loop.
    await asyncio.to_thread(func, *args)
