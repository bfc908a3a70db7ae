"""Liveness and readiness, without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep
from app.api.readiness import check_readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "Not ready: the body says which part, the log says why"}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: database, signing keys, event broker, Redis (when used); ok or why not."""
    readiness = await check_readiness(services)
    return JSONResponse(readiness.public(), status_code=200 if readiness.ready else 503)
