"""A gateway-sim on a spare loopback port, with its market open around the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from stocks_api.broker.gateway.server import GatewaySim
from tests.conftest import make_settings, running_gateway


@pytest.fixture
async def gateway() -> AsyncIterator[GatewaySim]:
    # The gateway needs no database: the settings only carry its market's.
    async with running_gateway(make_settings("sqlite+aiosqlite://")) as sim:
        yield sim
