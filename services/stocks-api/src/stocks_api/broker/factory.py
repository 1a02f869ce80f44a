"""Build the configured broker (called from the lifespan)."""

from __future__ import annotations

from stocks_api.broker.protocol import BrokerClient
from stocks_api.broker.sim.broker import SimBroker
from stocks_api.core.config import Settings


def build_broker(settings: Settings) -> BrokerClient:
    """Return the broker named by `BROKER`."""
    if settings.broker == "sim":
        return SimBroker(settings.sim, calendar=settings.session.calendar())
    if settings.broker == "ibkr":
        # Imported here: only this broker needs ib_async loaded.
        from stocks_api.broker.ib.broker import IbkrBroker

        return IbkrBroker(settings.ib, timeout=settings.broker_timeout_seconds)
    raise ValueError(f"unsupported BROKER {settings.broker!r}")  # pragma: no cover
