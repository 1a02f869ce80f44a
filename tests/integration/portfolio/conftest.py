"""Every test here runs on the simulated broker and through IB (IbkrBroker to gateway-sim)."""

from __future__ import annotations

import pytest

from tests.conftest import BROKERS


@pytest.fixture(params=BROKERS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)
