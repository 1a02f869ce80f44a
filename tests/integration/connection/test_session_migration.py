"""The broker_session table is made by its migration, as the model says, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from stocks_api.connection.models import BrokerSession
from tests.databases import check_table_migration


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_the_migration_makes_broker_session_as_the_model_and_drops_it(
    backend: str, tmp_path: Path
) -> None:
    await check_table_migration(backend, tmp_path, BrokerSession, down_to="0004", kept="order")
