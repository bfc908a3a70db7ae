"""Routes added as the application's own (app.main.include_routes): what FastAPI's
include_router would have served and documented, without a router to walk per request."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header

from app.main import create_app, include_routes
from auth.testing import TestIssuer
from tests.app.conftest import app_settings, auth_settings


async def _tenant(x_tenant: Annotated[str, Header()]) -> str:
    return x_tenant


def _router() -> APIRouter:
    router = APIRouter(
        prefix="/api/things",
        tags=["things"],
        responses={404: {"description": "No such thing"}},
        dependencies=[Depends(_tenant)],
    )

    @router.get("/{thing_id}")
    async def read_thing(thing_id: int) -> dict[str, int]:
        """One thing."""
        return {"id": thing_id}

    return router


async def test_routes_are_served_and_documented_as_an_included_router_s() -> None:
    included, added = FastAPI(), FastAPI()
    included.include_router(_router())
    include_routes(added, _router())
    assert added.openapi() == included.openapi()
    for app in (included, added):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/api/things/7", headers={"X-Tenant": "a"})).json() == {
                "id": 7
            }
            # The router's own dependency still runs.
            assert (await client.get("/api/things/7")).status_code == 422


def test_the_application_walks_no_router_to_find_a_route(issuer: TestIssuer) -> None:
    app = create_app(app_settings("sqlite:///:memory:"), auth_settings(issuer))
    # FastAPI's included router (a private class) is what each request would walk.
    assert not [route for route in app.router.routes if type(route).__name__ == "_IncludedRouter"]
    paths = [getattr(route, "path", None) for route in app.router.routes]
    assert paths.index("/api/me") < paths.index("/api/todos")  # one route, tried first
