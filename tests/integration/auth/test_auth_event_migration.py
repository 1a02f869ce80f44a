"""The auth_event table is made by its migration (0006), as the model says, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from stocks_api.auth.models import AuthEvent
from tests.databases import check_table_migration


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


async def _kinds_are_checked(url: str) -> None:
    await _insert_kind(url, "sign_in")
    with pytest.raises(IntegrityError):  # the kinds are checked by the database
        await _insert_kind(url, "sign_in_maybe")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_the_migration_makes_auth_event_as_the_model_and_drops_it(
    backend: str, tmp_path: Path
) -> None:
    await check_table_migration(
        backend, tmp_path, AuthEvent, down_to="0005", kept="api_key", while_up=_kinds_are_checked
    )
