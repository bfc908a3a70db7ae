"""The ASGI middleware (auth.asgi) around real Starlette and Litestar applications, each
served by uvicorn on loopback (lifespan included) against a test issuer on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, Response, get
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from auth import AuthError, Principal, check_roles, check_scopes
from auth.asgi import OIDCMiddleware
from auth.testing import DpopKey, TestIssuer, serve, served_issuer
from tests.auth.fakes import IsolatedSettings


@pytest.fixture(scope="module")
def issuer() -> Iterator[TestIssuer]:
    with served_issuer("asgi") as served:
        yield served


def _settings(issuer: TestIssuer, **overrides: Any) -> IsolatedSettings:
    return IsolatedSettings(issuer_uri=issuer.issuer, audience=issuer.audience, **overrides)


# -- Starlette ---------------------------------------------------------------------------


async def items(request: StarletteRequest) -> JSONResponse:
    principal = check_scopes(request.user, ["items:read"])
    return JSONResponse({"sub": principal.subject, "scopes": sorted(request.auth.scopes)})


@requires("items:read")
async def by_decorator(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"sub": request.user.subject})


async def greeting(request: StarletteRequest) -> JSONResponse:
    user: Principal | None = request.user
    return JSONResponse({"hello": user.subject if user else "stranger"})


async def healthz(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"ok": True, "authenticated": "user" in request.scope})


async def live(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol="todo.v1")
    await websocket.send_json({"sub": websocket.user.subject})
    await websocket.close()


def starlette_app(issuer: TestIssuer, **options: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/items", items),
            Route("/decorated", by_decorator),
            Route("/greeting", greeting),
            Route("/healthz", healthz),
            WebSocketRoute("/live", live),
        ],
        middleware=[
            Middleware(
                OIDCMiddleware,
                settings=_settings(issuer),
                public_paths=["/healthz"],
                **options,
            )
        ],
    )


@pytest.fixture(scope="module")
def starlette_url(issuer: TestIssuer) -> Iterator[str]:
    with serve(starlette_app(issuer)) as url:
        yield url


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_starlette_admits_a_valid_token_and_exposes_the_principal(
    starlette_url: str, issuer: TestIssuer
) -> None:
    response = httpx.get(
        f"{starlette_url}/items", headers=_bearer(issuer.token("ann", scope="items:read"))
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": "ann", "scopes": ["items:read"]}
    # Starlette's own `requires` reads the token's scopes from scope["auth"].
    decorated = httpx.get(
        f"{starlette_url}/decorated", headers=_bearer(issuer.token("ann", scope="items:read"))
    )
    assert decorated.json() == {"sub": "ann"}


def test_starlette_refuses_without_credentials_with_both_challenges(starlette_url: str) -> None:
    response = httpx.get(f"{starlette_url}/items")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    challenges = response.headers.get_list("www-authenticate")
    assert [challenge.split()[0] for challenge in challenges] == ["Bearer", "DPoP"]
    assert "error=" not in challenges[0]  # RFC 6750 §3.1: no code without credentials
    assert response.json()["status"] == 401


def test_starlette_refuses_a_bad_token_before_the_route(
    starlette_url: str, issuer: TestIssuer
) -> None:
    response = httpx.get(f"{starlette_url}/items", headers=_bearer(issuer.token(aud="other")))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_routes_own_scope_check_is_a_403_with_the_scope_challenge(
    starlette_url: str, issuer: TestIssuer
) -> None:
    response = httpx.get(
        f"{starlette_url}/items", headers=_bearer(issuer.token("ann", scope="openid"))
    )
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'scope="items:read"' in response.headers["www-authenticate"]


def test_public_paths_need_no_token(starlette_url: str) -> None:
    response = httpx.get(f"{starlette_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "authenticated": False}


def test_anonymous_requests_pass_only_when_allowed(issuer: TestIssuer) -> None:
    with serve(starlette_app(issuer, anonymous=True)) as url:
        assert httpx.get(f"{url}/greeting").json() == {"hello": "stranger"}
        named = httpx.get(f"{url}/greeting", headers=_bearer(issuer.token("bo")))
        assert named.json() == {"hello": "bo"}
        bad = httpx.get(f"{url}/greeting", headers=_bearer(issuer.token(exp=1)))
        assert bad.status_code == 401  # bad credentials are refused all the same


def test_a_dpop_bound_token_is_verified_with_its_proof(
    starlette_url: str, issuer: TestIssuer
) -> None:
    key = DpopKey()
    token = issuer.token("cy", dpop_key=key, scope="items:read")
    url = f"{starlette_url}/items"
    headers = {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, access_token=token)}
    assert httpx.get(url, headers=headers).status_code == 200
    replayed = httpx.get(url, headers=headers)
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_dpop_proof"
    # A route's refusal goes in the DPoP challenge, the scheme the caller used.
    unscoped = issuer.token("cy", dpop_key=key, scope="openid")
    refused = httpx.get(
        url,
        headers={
            "Authorization": f"DPoP {unscoped}",
            "DPoP": key.proof("GET", url, access_token=unscoped),
        },
    )
    assert refused.status_code == 403
    assert refused.headers.get_list("www-authenticate")[0].startswith("DPoP ")


def test_a_websocket_carries_its_token_in_the_subprotocol(
    starlette_url: str, issuer: TestIssuer
) -> None:
    ws_url = starlette_url.replace("http://", "ws://") + "/live"
    offered = ["todo.v1", f"authorization_bearer_{issuer.token('di')}"]
    with connect(ws_url, subprotocols=offered) as socket:  # type: ignore[arg-type]
        assert socket.recv(timeout=5) == '{"sub":"di"}'
    with pytest.raises(InvalidStatus) as refused, connect(ws_url, subprotocols=["todo.v1"]):  # type: ignore[list-item]
        pass
    # uvicorn speaks the denial-response extension: the refusal is a real 401.
    assert refused.value.response.status_code == 401
    challenges = refused.value.response.headers.get_all("www-authenticate")
    assert [challenge.split()[0] for challenge in challenges] == ["Bearer", "DPoP"]


def test_without_a_lifespan_the_middleware_says_so() -> None:
    middleware = OIDCMiddleware(Starlette())
    with pytest.raises(RuntimeError, match="not started"):
        _ = middleware.authenticator


def test_a_configuration_error_stops_the_application_from_starting() -> None:
    unconfigured = Starlette(middleware=[Middleware(OIDCMiddleware, settings=IsolatedSettings())])
    with pytest.raises(RuntimeError, match="did not start"), serve(unconfigured):
        pass


# -- Litestar ----------------------------------------------------------------------------


@dataclass
class LitestarApi:
    url: str
    middleware: OIDCMiddleware


@pytest.fixture(scope="module")
def litestar(issuer: TestIssuer) -> Iterator[LitestarApi]:
    @get("/items")
    async def litestar_items(request: Request[Principal, Any, Any]) -> dict[str, str]:
        return {"sub": check_scopes(request.user, ["items:read"]).subject}

    @get("/admin")
    async def litestar_admin(request: Request[Principal, Any, Any]) -> dict[str, str]:
        return {"sub": check_roles(request.user, ["admin"]).subject}

    def refused(request: Request[Principal, Any, Any], error: AuthError) -> Response[bytes]:
        refusal = protected.refusal(error, request.user)
        return Response(
            refusal.body,
            status_code=refusal.status,
            headers=refusal.merged_headers(),
            media_type=refusal.content_type,
        )

    # Litestar types its ASGI callable with its own narrower TypedDicts; it is an ASGI
    # application all the same.
    protected = OIDCMiddleware(
        Litestar(  # type: ignore[arg-type]
            route_handlers=[litestar_items, litestar_admin],
            exception_handlers={AuthError: refused},
        ),
        settings=_settings(issuer),
    )
    with serve(protected) as url:
        yield LitestarApi(url, protected)


def test_litestar_admits_a_valid_token(litestar: LitestarApi, issuer: TestIssuer) -> None:
    token = issuer.token("eve", scope="items:read")
    response = httpx.get(f"{litestar.url}/items", headers=_bearer(token))
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": "eve"}


def test_litestar_refuses_before_the_application(litestar: LitestarApi) -> None:
    response = httpx.get(f"{litestar.url}/items", headers={"Authorization": "Bearer a b"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_litestar_answers_a_routes_refusal_through_its_handler(
    litestar: LitestarApi, issuer: TestIssuer
) -> None:
    token = issuer.token("eve", scope="items:read", realm_access={"roles": ["user"]})
    response = httpx.get(f"{litestar.url}/admin", headers=_bearer(token))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["error"] == "insufficient_scope"
    # Litestar keeps one value per header name: the challenges share one field.
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert ", DPoP algs=" in challenge


def test_each_application_runs_its_own_authenticator(
    litestar: LitestarApi, issuer: TestIssuer
) -> None:
    # Two Litestar applications, each wrapped, each trusting another issuer.
    with served_issuer("other") as other:
        second = OIDCMiddleware(Litestar(route_handlers=[]), settings=_settings(other))  # type: ignore[arg-type]
        with serve(second):
            assert second.authenticator is not litestar.middleware.authenticator
            assert second.authenticator.settings.issuer_uri == other.issuer
            assert litestar.middleware.authenticator.settings.issuer_uri == issuer.issuer
