"""``/api/me``: the caller as the API sees them."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import CurrentPrincipal
from app.api.errors import problem_responses
from app.data.models import Me

router = APIRouter(prefix="/api", tags=["me"], responses=problem_responses(400, 401, 503))


@router.get("/me")
async def read_me(principal: CurrentPrincipal) -> Me:
    """Who is calling: identity, roles, groups, client and whether the token is DPoP-bound."""
    return Me(
        subject=principal.subject,
        issuer=principal.issuer,
        name=principal.name,
        email=principal.email,
        username=principal.username,
        roles=sorted(principal.roles),
        groups=list(principal.groups),
        client_id=principal.client_id,
        scopes=sorted(principal.scopes),
        dpop_bound=principal.dpop_bound,
        token_expires_at=principal.expires_at,
    )
