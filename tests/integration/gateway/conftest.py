"""A gateway-sim on a spare loopback port, with its market open around the clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from stocks_api.broker.gateway.server import GatewaySim
from stocks_api.core.config import SimSettings
from tests.conftest import ALWAYS_OPEN


@pytest.fixture
async def gateway() -> AsyncIterator[GatewaySim]:
    sim = GatewaySim(SimSettings(seed=7), port=0, calendar=ALWAYS_OPEN.calendar(), tick=False)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.close()


async def eventually(condition: Callable[[], Any], seconds: float = 5.0) -> None:
    """Wait until `condition()` is truthy."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
