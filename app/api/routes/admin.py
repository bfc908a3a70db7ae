"""``/api/admin``: views for holders of the admin role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import create_model

from app.api.deps import AdminPrincipal, DatabaseDep, ServicesDep
from app.api.errors import problem_responses
from app.api.readiness import check_readiness
from app.data import crud
from app.data.resources import RESOURCES
from app.data.statements import stat_names

router = APIRouter(
    prefix="/api/admin", tags=["admin"], responses=problem_responses(400, 401, 403, 503)
)

#: Users, each resource's rows, and the true rows of each of its ``counted`` columns.
_COUNTS: dict[str, Any] = dict.fromkeys(stat_names(RESOURCES), (int, ...))
AdminStats = create_model("AdminStats", **_COUNTS)


@router.get("/stats", response_model=AdminStats)
async def read_stats(_: AdminPrincipal, database: DatabaseDep) -> dict[str, int]:
    """Counts of users and of each resource's rows (requires the admin role, TODO_ADMIN_ROLE)."""
    return await crud.admin_stats(database)


@router.get("/readiness")
async def read_readiness(_: AdminPrincipal, services: ServicesDep) -> dict[str, Any]:
    """/readyz with each part's detail: issuer, keys, sockets, last errors (admin role)."""
    return (await check_readiness(services)).detail()
