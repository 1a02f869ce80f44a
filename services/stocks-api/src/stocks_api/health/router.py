"""Probes and metrics at the root: `/health`, `/health/live`, `/health/ready`, `/metrics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stocks_api.broker.dependencies import BrokerDep
from stocks_api.connection.dependencies import OwnershipDep
from stocks_api.core.dependencies import DatabaseDep
from stocks_api.core.json_body import ExactJsonRoute
from stocks_api.events.dependencies import BusDep
from stocks_api.health import service
from stocks_api.health.dependencies import metrics_access

router = APIRouter(tags=["health"], route_class=ExactJsonRoute)


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


@router.get(
    "/health/ready",
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        503: {
            "description": "not ready: a dependency is down, or this instance is a standby",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def ready(
    db: DatabaseDep, broker: BrokerDep, bus: BusDep, ownership: OwnershipDep
) -> JSONResponse:
    """Tell whether this instance takes orders (503: a dependency is down, or a standby)."""
    report = await service.check_all(db, broker, bus, ownership)
    return JSONResponse(report, status_code=200 if report["ready"] else 503)


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_access)])
async def metrics(db: DatabaseDep) -> Response:
    """Expose Prometheus metrics (to METRICS_ALLOW_IPS and METRICS_TOKEN, when set)."""
    service.observe_pool(db)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
