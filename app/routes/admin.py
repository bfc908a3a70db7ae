"""``/api/admin``: views for holders of the admin role."""

from __future__ import annotations

from fastapi import APIRouter

from app import crud
from app.deps import AdminPrincipal, SessionDep
from app.errors import problem_responses
from app.models import AdminStats

router = APIRouter(
    prefix="/api/admin", tags=["admin"], responses=problem_responses(400, 401, 403, 503)
)


@router.get("/stats")
async def read_stats(_: AdminPrincipal, session: SessionDep) -> AdminStats:
    """Counts of users and todos (requires the admin role, TODO_ADMIN_ROLE)."""
    return await crud.admin_stats(session)
