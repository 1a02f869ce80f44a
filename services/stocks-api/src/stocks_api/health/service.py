"""Dependency checks behind the health probes."""

from __future__ import annotations

import asyncio
from typing import Any

from stocks_api.broker.protocol import BrokerClient
from stocks_api.connection.link import link_status
from stocks_api.connection.ownership import BrokerOwnership
from stocks_api.core import metrics
from stocks_api.core.database import Database
from stocks_api.events.bus import EventBus

CHECK_TIMEOUT_SECONDS = 2.0
# db_pool_connections{state}: the pool's own counters (a QueuePool's; other pools have none).
_POOL_READINGS = (
    ("in_use", "checkedout"),
    ("idle", "checkedin"),
    ("overflow", "overflow"),
    ("size", "size"),
)


def observe_pool(db: Database) -> None:
    """Set the database pool gauge from the pool's counters (read at each scrape)."""
    pool = db.engine.pool
    for state, reading in _POOL_READINGS:
        read = getattr(pool, reading, None)
        if callable(read):
            # A QueuePool's overflow counts up from -pool_size; below zero means none.
            metrics.DB_POOL_CONNECTIONS.labels(state=state).set(max(int(read()), 0))


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
        link = link_status(broker)
        return {
            "status": "down",
            "kind": broker.kind,
            "link": link["state"],
            "since": link["since"],
            "error": link["description"],
        }
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            latency = await broker.ping()
    except Exception as exc:
        return {"status": "down", "kind": broker.kind, "error": type(exc).__name__}
    return {"status": "up", "kind": broker.kind, "latency_ms": round(latency * 1000, 3)}


def check_standby(broker: BrokerClient, ownership: BrokerOwnership) -> dict[str, Any]:
    """A standby never connects the broker: say so, and who owns it."""
    owner = ownership.owner
    return {
        "status": "standby",
        "kind": broker.kind,
        "owner": None if owner is None else owner.as_dict(),
    }


async def check_all(
    db: Database, broker: BrokerClient, bus: EventBus, ownership: BrokerOwnership
) -> dict[str, Any]:
    """Check every dependency; the overall status is `ok` only when all are up.

    `ready` leaves the bus out: without Redis the API still trades (events then reach
    only this process's subscribers), so it should not be taken out of service. A
    standby (another instance owns the broker connection) is `read_only` and not ready:
    it serves reads but takes no orders.
    """
    if ownership.is_owner:
        database, broker_state = await asyncio.gather(check_database(db), check_broker(broker))
    else:
        database, broker_state = await check_database(db), check_standby(broker, ownership)
    checks = {"database": database, "broker": broker_state, "bus": bus.status()}
    others_up = all(c["status"] == "up" for name, c in checks.items() if name != "broker")
    ready = ownership.is_owner and database["status"] == "up" and broker_state["status"] == "up"
    if not ownership.is_owner:
        status = "read_only" if others_up else "degraded"
    else:
        status = "ok" if others_up and broker_state["status"] == "up" else "degraded"
    return {"status": status, "role": ownership.role.value, "ready": ready, "checks": checks}
