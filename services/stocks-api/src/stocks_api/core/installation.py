"""Values chosen once per installation and kept in its database (e.g. the simulated market's seed).

A value is made the first time it is asked for and stored; every later start, and every
other instance on the same database, reads the same one. Two instances starting at once
agree: the second insert loses on the primary key and reads the winner's value.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from stocks_api.core.database import Base

SIM_SEED = "sim_seed"


class InstallationValue(Base):
    """One value of this installation, by name."""

    __tablename__ = "installation_value"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


async def installation_value(
    sessionmaker: async_sessionmaker[AsyncSession], key: str, make: Callable[[], str]
) -> str:
    """Return the installation's value `key`, storing `make()` the first time."""
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(InstallationValue.value).where(InstallationValue.key == key)
        )
        if stored is not None:
            return stored
        session.add(InstallationValue(key=key, value=make()))
        try:
            await session.commit()
        except IntegrityError:  # another instance stored it first: theirs counts
            await session.rollback()
        stored = await session.scalar(
            select(InstallationValue.value).where(InstallationValue.key == key)
        )
        assert stored is not None
        return stored


def random_seed() -> str:
    """A seed for the simulated market: 48 random bits, as text."""
    return str(secrets.randbits(48))
