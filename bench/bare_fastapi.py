"""The reference of the stack row: a bare FastAPI application, one route with one
dependency, on plain uvicorn (uvloop + httptools, no access log).

``GET /api/me`` answers what ``python -m app`` answers in ``OIDC_MODE=static``: the
same ``Me`` model built from a fixed principal, which its one dependency returns. No
middleware of ours, no protocol wrapper, no authentication adapter: what is left of
the API's ``/api/me`` once the stack around the route is taken away.

    .venv/bin/python -m bench.bare_fastapi PORT
"""

from __future__ import annotations

import sys
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI

from app.data.models import Me
from auth import Principal

PRINCIPAL = Principal(
    subject="developer",
    issuer="http://127.0.0.1/static",
    client_id="todo-spa",
    roles=frozenset({"todo-user", "todo-admin"}),
)

app = FastAPI()


async def caller() -> Principal:
    return PRINCIPAL


@app.get("/api/me")
async def read_me(principal: Annotated[Principal, Depends(caller)]) -> Me:
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


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
