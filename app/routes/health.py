"""Liveness and readiness, without authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.db import database_is_reachable
from app.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready; the body says which part"}})
async def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: database reachable, signing keys loaded, Redis (when used) connected."""
    database = await database_is_reachable(services.engine)
    auth_status = services.authenticator.status()
    checks: dict[str, Any] = {
        "database": {"ok": database},
        "auth": {"ok": services.authenticator.is_ready(), **auth_status},
        "events": services.broker.status(),
    }
    if services.redis is not None:
        checks["redis"] = {"ok": await services.redis_is_reachable()}
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
