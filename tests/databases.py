"""Fresh test databases on the machine's PostgreSQL and on SQLite files."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

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
