"""``/api/admin``: views for holders of the admin role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.api.deps import AdminPrincipal, DatabaseDep, ServicesDep
from app.api.errors import problem_responses
from app.api.readiness import check_readiness
from app.data import crud
from app.data.models import AdminStats

router = APIRouter(
    prefix="/api/admin", tags=["admin"], responses=problem_responses(400, 401, 403, 503)
)


@router.get("/stats")
async def read_stats(_: AdminPrincipal, database: DatabaseDep) -> AdminStats:
    """Counts of users and todos (requires the admin role, TODO_ADMIN_ROLE)."""
    return await crud.admin_stats(database)


@router.get("/readiness")
async def read_readiness(_: AdminPrincipal, services: ServicesDep) -> dict[str, Any]:
    """/readyz with each part's detail: issuer, keys, sockets, last errors (admin role)."""
    return (await check_readiness(services)).detail()
