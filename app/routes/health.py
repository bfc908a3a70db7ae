"""Liveness and readiness, without authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.db import database_is_reachable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready; the body says which part"}})
async def readyz(request: Request) -> JSONResponse:
    """Readiness: database reachable, signing keys loaded, Redis (when used) connected."""
    state = request.app.state
    database = await database_is_reachable(state.engine)
    auth_status = state.authenticator.status()
    checks: dict[str, Any] = {
        "database": {"ok": database},
        "auth": {"ok": state.authenticator.is_ready(), **auth_status},
        "events": state.broker.status(),
    }
    if state.redis is not None:
        checks["redis"] = {"ok": await state.redis_is_reachable()}
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
