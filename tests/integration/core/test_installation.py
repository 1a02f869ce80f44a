"""Values of an installation (the simulated market's seed): chosen once, kept in its database."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from stocks_api.broker.sim.settings import SimSettings
from stocks_api.core.config import DatabaseSettings
from stocks_api.core.database import Database
from stocks_api.core.installation import InstallationValue, installation_value
from stocks_api.core.migrations import upgrade
from stocks_api.main import with_installation_seed
from tests.conftest import make_settings
from tests.databases import check_table_migration, fresh_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_migration_makes_installation_value_and_racing_starts_agree(
    backend: str, tmp_path: Path
) -> None:
    async def racing_starts(url: str) -> None:
        db = Database(DatabaseSettings(url=url))
        counter = itertools.count()
        try:
            values = await asyncio.gather(
                *(
                    installation_value(db.sessionmaker, "k", lambda: str(next(counter)))
                    for _ in range(5)
                )
            )
            again = await installation_value(db.sessionmaker, "k", lambda: "never used")
        finally:
            await db.dispose()
        assert len(set(values)) == 1
        assert again == values[0]

    await check_table_migration(
        backend, tmp_path, InstallationValue, down_to="0006", kept="order", while_up=racing_starts
    )


async def test_an_unset_seed_is_the_installations_own_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    seeds = []
    for name in ("one", "two"):
        with fresh_database("sqlite", tmp_path / name) as url:
            await asyncio.to_thread(upgrade, url)
            db = Database(DatabaseSettings(url=url))
            try:
                unset = make_settings(url).model_copy(update={"sim": SimSettings()})
                assert unset.sim.seed is None
                first = await with_installation_seed(unset, db)
                restarted = await with_installation_seed(unset, db)
                chosen = await with_installation_seed(make_settings(url, seed=5), db)
            finally:
                await db.dispose()
            assert first.sim.seed is not None
            assert first.sim.seed == restarted.sim.seed
            assert chosen.sim.seed == 5  # SIM_SEED wins
            seeds.append(first.sim.seed)
    assert seeds[0] != seeds[1]  # two installations do not trade the same path
