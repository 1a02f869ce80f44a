"""Probes and metrics at the root: `/health`, `/health/live`, `/health/ready`, `/metrics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stocks_api.core.dependencies import BrokerDep, BusDep, DatabaseDep, OwnershipDep
from stocks_api.health import service

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(
    db: DatabaseDep, broker: BrokerDep, bus: BusDep, ownership: OwnershipDep
) -> dict[str, Any]:
    """Report each dependency with its latency, and whether this instance owns the broker."""
    return await service.check_all(db, broker, bus, ownership)


@router.get("/health/live")
async def live() -> dict[str, str]:
    """Tell that the process is up."""
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(
    db: DatabaseDep, broker: BrokerDep, bus: BusDep, ownership: OwnershipDep
) -> JSONResponse:
    """Tell whether this instance takes orders (503: a dependency is down, or a standby)."""
    report = await service.check_all(db, broker, bus, ownership)
    return JSONResponse(report, status_code=200 if report["ready"] else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(db: DatabaseDep) -> Response:
    """Expose Prometheus metrics."""
    service.observe_pool(db)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
