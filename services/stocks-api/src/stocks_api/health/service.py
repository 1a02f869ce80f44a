"""Dependency checks behind the health probes."""

from __future__ import annotations

import asyncio
from typing import Any

from stocks_api.broker.protocol import BrokerClient
from stocks_api.core.database import Database
from stocks_api.streaming.bus import EventBus

CHECK_TIMEOUT_SECONDS = 2.0


async def check_database(db: Database) -> dict[str, Any]:
    """Run a trivial query against the database."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            latency = await db.ping()
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "up", "latency_ms": round(latency * 1000, 3)}


async def check_broker(broker: BrokerClient) -> dict[str, Any]:
    """Ask the broker for a round trip."""
    if not broker.is_connected:
        return {"status": "down", "kind": broker.kind, "error": "not connected"}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            latency = await broker.ping()
    except Exception as exc:
        return {"status": "down", "kind": broker.kind, "error": type(exc).__name__}
    return {"status": "up", "kind": broker.kind, "latency_ms": round(latency * 1000, 3)}


async def check_all(db: Database, broker: BrokerClient, bus: EventBus) -> dict[str, Any]:
    """Check every dependency; the overall status is `ok` only when all are up.

    `ready` leaves the bus out: without Redis the API still trades (events then reach
    only this process's subscribers), so it should not be taken out of service.
    """
    database, broker_state = await asyncio.gather(check_database(db), check_broker(broker))
    checks = {"database": database, "broker": broker_state, "bus": bus.status()}
    healthy = all(check["status"] == "up" for check in checks.values())
    ready = database["status"] == "up" and broker_state["status"] == "up"
    return {"status": "ok" if healthy else "degraded", "ready": ready, "checks": checks}
