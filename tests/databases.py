"""Fresh test databases on the machine's PostgreSQL and on SQLite files, and migration checks."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from stocks_api.core.database import Base
from stocks_api.core.migrations import alembic_config, upgrade

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TEST_PG_USER", "postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=5
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run_admin(sql: str) -> None:
    # In a thread of its own, so it works from sync code and from inside a running loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _admin(sql)).result()


def postgres_available() -> bool:
    try:
        _run_admin("SELECT 1")
    except (OSError, TimeoutError) as exc:
        print(f"PostgreSQL check failed: {exc!r}")
        return False
    return True


def require_postgres() -> None:
    """Skip without PostgreSQL, except in CI (CI=true), where it is a failure."""
    if postgres_available():
        return
    message = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing database fails the run)")
    pytest.skip(message)


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """Create an empty database, yield its async URL, drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / f'stocks-{uuid.uuid4().hex[:8]}.db'}"
        return
    require_postgres()
    name = f"stocks_test_{uuid.uuid4().hex[:12]}"
    _run_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        _run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def table_state(url: str, model: type[Base]) -> tuple[list[object], set[str]]:
    """How `model`'s table differs from the database at `url`, and the database's tables.

    Only this model's table is compared (column types included): a diff elsewhere is
    another test's business. The diff is empty when the two agree.
    """
    table = model.metadata.tables[model.__tablename__]
    only = MetaData(naming_convention=model.metadata.naming_convention)
    table.to_metadata(only)

    def include(name: str | None, kind: str, _parent: object) -> bool:
        return kind != "table" or name == table.name

    def state(connection: Connection) -> tuple[list[object], set[str]]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": include}
        )
        return compare_metadata(context, only), set(inspect(connection).get_table_names())

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(state)
    finally:
        await engine.dispose()


async def check_table_migration(
    backend: str,
    directory: Path,
    model: type[Base],
    *,
    down_to: str,
    kept: str,
    while_up: Callable[[str], Awaitable[None]] | None = None,
) -> None:
    """Check the migration that makes `model`'s table, on a fresh database of `backend`.

    Upgraded to head, the table is there as the model says; `while_up(url)` then checks
    what else the test asserts of it (rows it takes or refuses). Downgraded to `down_to`,
    the revision before, the table is gone and `kept`, a table of an earlier migration, is
    still there: only this migration was undone.
    """
    name = model.__tablename__
    with fresh_database(backend, directory) as url:
        # Alembic's env.py starts its own event loop, so run it off the test's loop.
        await asyncio.to_thread(upgrade, url)
        diff, tables = await table_state(url, model)
        assert name in tables, f"no {name} table after upgrading: {sorted(tables)}"
        assert diff == [], f"{name} and its migration disagree: {diff}"
        if while_up is not None:
            await while_up(url)

        await asyncio.to_thread(command.downgrade, alembic_config(url), down_to)
        _, tables = await table_state(url, model)
        assert name not in tables, f"{name} is still there after downgrading to {down_to}"
        assert kept in tables, f"{kept} is gone too: more than this migration was undone"
