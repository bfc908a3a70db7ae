"""The FastAPI API as a user meets it (auth.fastapi.OIDCAuth): Security scopes in
OpenAPI, optional authentication, require_any_role, errors rendered with or without
install(), one verification per request, the lifespan, and the testing override."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Security, WebSocket
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from auth._errors import ConfigurationError
from auth._principal import Principal
from auth._settings import AuthSettings
from auth._verifier import Authenticator, TokenVerifier
from auth.fastapi import OIDCAuth, install
from auth.fastapi.testing import override_principal
from auth.testing import DpopKey, TestIssuer, serve, served_issuer
from tests.auth.fakes import IsolatedSettings

Mint = Callable[..., str]
Prove = Callable[..., str]
BASE_URL = "https://api.example"


def build(
    authenticator: Authenticator | None = None, *, installed: bool = False
) -> tuple[FastAPI, OIDCAuth]:
    auth = OIDCAuth()
    app = FastAPI()
    if authenticator is not None:
        auth.use(app, authenticator)
    if installed:
        install(app)

    @app.get("/me")
    async def me(request: Request, principal: Principal = Security(auth)) -> dict[str, object]:  # noqa: B008
        return {"sub": principal.subject, "recorded": request.state.principal is principal}

    @app.get("/items")
    async def items(principal: Principal = Security(auth, scopes=["items:read"])) -> list[str]:  # noqa: B008
        return []

    @app.get("/greeting")
    async def greeting(principal: Principal | None = Depends(auth.optional)) -> dict[str, str]:  # noqa: B008
        return {"hello": principal.subject if principal else "stranger"}

    @app.get("/staff")
    async def staff(
        principal: Principal = Depends(auth.require_any_role("todo-admin", "todo-user")),  # noqa: B008
        same: Principal = Security(auth, scopes=["openid"]),  # noqa: B008
    ) -> dict[str, bool]:
        return {"same": principal is same}

    return app, auth


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def plain(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    """An application that never called install(): FastAPI's own handler renders."""
    app, _ = build(verifier)
    async for http in _client(app):
        yield http


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_without_install_a_refusal_still_has_its_status_and_challenges(
    plain: httpx.AsyncClient, mint: Mint
) -> None:
    response = await plain.get("/me", headers=_bearer(mint(aud="someone-else")))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="todo-api", error="invalid_token"')
    assert ", DPoP realm=" in challenge
    assert response.json()["detail"]["error"] == "invalid_token"
    assert response.headers["cache-control"] == "no-store"


async def test_with_install_a_refusal_is_problem_json_with_one_field_per_challenge(
    verifier: TokenVerifier, mint: Mint
) -> None:
    app, _ = build(verifier, installed=True)
    async for http in _client(app):
        response = await http.get("/me", headers=_bearer(mint(aud="someone-else")))
        assert response.headers["content-type"] == "application/problem+json"
        assert len(response.headers.get_list("www-authenticate")) == 2
        assert response.json()["error"] == "invalid_token"


async def test_a_success_records_the_principal_on_the_request(
    plain: httpx.AsyncClient, mint: Mint
) -> None:
    response = await plain.get("/me", headers=_bearer(mint("bob")))
    assert response.json() == {"sub": "bob", "recorded": True}


async def test_security_scopes_are_enforced_and_documented(
    plain: httpx.AsyncClient, mint: Mint, verifier: TokenVerifier
) -> None:
    refused = await plain.get("/items", headers=_bearer(mint(scope="openid")))
    assert refused.status_code == 403
    assert 'scope="items:read"' in refused.headers["www-authenticate"]
    admitted = await plain.get("/items", headers=_bearer(mint(scope="openid items:read")))
    assert admitted.status_code == 200
    app, _ = build(verifier, installed=True)
    operation = app.openapi()["paths"]["/items"]["get"]
    assert {"Bearer": ["items:read"]} in operation["security"]
    assert {"DPoP": ["items:read"]} in operation["security"]


async def test_optional_authentication_gives_none_without_credentials_only(
    plain: httpx.AsyncClient, mint: Mint
) -> None:
    assert (await plain.get("/greeting")).json() == {"hello": "stranger"}
    assert (await plain.get("/greeting", headers=_bearer(mint("bob")))).json() == {"hello": "bob"}
    bad = await plain.get("/greeting", headers=_bearer(mint(exp=1)))
    assert bad.status_code == 401
    malformed = await plain.get("/greeting", headers={"Authorization": "Bearer a b"})
    assert malformed.status_code == 400


async def test_any_one_role_is_enough_and_none_is_403(plain: httpx.AsyncClient, mint: Mint) -> None:
    user = await plain.get("/staff", headers=_bearer(mint(realm_access={"roles": ["todo-user"]})))
    assert user.status_code == 200
    nobody = await plain.get("/staff", headers=_bearer(mint(realm_access={"roles": ["x"]})))
    assert nobody.status_code == 403
    assert nobody.json()["detail"]["error"] == "insufficient_scope"


async def test_a_dpop_request_is_verified_once_however_many_dependencies_ask(
    plain: httpx.AsyncClient, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    # /staff asks twice (require_any_role and Security): a second verification would
    # see the proof's jti again and refuse it as a replay.
    token = mint(dpop_key=dpop_key, realm_access={"roles": ["todo-user"]})
    url = f"{BASE_URL}/staff"
    response = await plain.get(
        "/staff",
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": prove(dpop_key, "GET", url, access_token=token),
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"same": True}


async def test_each_refusal_is_logged_at_info_with_its_check_and_nothing_else(
    plain: httpx.AsyncClient, mint: Mint, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint(aud="someone-else")
    with caplog.at_level(logging.INFO, logger="auth.fastapi"):
        await plain.get("/me", headers=_bearer(token))
    (record,) = [r for r in caplog.records if r.name == "auth.fastapi"]
    assert record.levelno == logging.INFO
    assert "aud" in record.getMessage()
    assert token not in record.getMessage()
    assert token[:20] not in record.getMessage()


async def test_the_lifespan_starts_and_closes_the_authenticator() -> None:
    auth = OIDCAuth(IsolatedSettings(mode="static"), production=False)
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/me")
    async def me(principal: Principal = Security(auth)) -> dict[str, str]:  # noqa: B008
        return {"sub": principal.subject}

    async with app.router.lifespan_context(app):
        async for http in _client(app):
            assert (await http.get("/me")).json() == {"sub": "dev-user"}
    with pytest.raises(RuntimeError, match="not started"):
        auth.authenticator_of(app)


async def test_it_also_runs_inside_the_applications_own_lifespan() -> None:
    auth = OIDCAuth(IsolatedSettings(mode="static"), production=False)
    app = FastAPI()
    async with auth.running(app) as authenticator:
        assert authenticator.is_ready()
        assert auth.authenticator_of(app) is authenticator
        with pytest.raises(RuntimeError, match="already started"):
            async with auth.running(app):
                pass
    with pytest.raises(RuntimeError, match="not started"):
        auth.authenticator_of(app)


async def test_development_modes_refuse_production_by_default() -> None:
    with pytest.raises(ConfigurationError):
        async with OIDCAuth(IsolatedSettings(mode="static")).running(FastAPI()):
            pass


def _application(auth: OIDCAuth, settings: AuthSettings) -> FastAPI:
    """An application of one declaration, running it with its own settings."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with auth.running(app, settings=settings):
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/me")
    async def me(principal: Principal = Security(auth)) -> dict[str, str]:  # noqa: B008
        return {"sub": principal.subject, "iss": principal.issuer}

    return app


def test_two_applications_of_one_declaration_each_run_their_own_authenticator() -> None:
    # One module-level declaration, two applications with different issuers, served at
    # the same time by two uvicorn servers in this process: each accepts its own
    # issuer's tokens only.
    auth = OIDCAuth()
    with served_issuer("north") as north, served_issuer("south") as south:
        north_app = _application(auth, IsolatedSettings(**_trusting(north)))
        south_app = _application(auth, IsolatedSettings(**_trusting(south)))
        with serve(north_app) as north_url, serve(south_app) as south_url:
            for url, own, other in ((north_url, north, south), (south_url, south, north)):
                accepted = httpx.get(f"{url}/me", headers=_bearer(own.token("ann")))
                assert accepted.status_code == 200, accepted.text
                assert accepted.json() == {"sub": "ann", "iss": own.issuer}
                refused = httpx.get(f"{url}/me", headers=_bearer(other.token("ann")))
                assert refused.status_code == 401
                assert 'error="invalid_token"' in refused.headers["www-authenticate"]
            assert auth.authenticator_of(north_app) is not auth.authenticator_of(south_app)
    with pytest.raises(RuntimeError, match="not started"):
        auth.authenticator_of(north_app)


def _trusting(issuer: TestIssuer) -> dict[str, str]:
    return {"issuer_uri": issuer.issuer, "audience": issuer.audience}


class TestOverride:
    """What a user's own tests do: no token, a principal with chosen roles and scopes."""

    @pytest.fixture
    def app(self) -> tuple[FastAPI, OIDCAuth]:
        return build()  # never started: no issuer, no keys

    async def test_the_overridden_principal_reaches_the_route(
        self, app: tuple[FastAPI, OIDCAuth]
    ) -> None:
        application, auth = app
        with override_principal(application, auth, subject="carol", scopes=["items:read"]):
            async for http in _client(application):
                assert (await http.get("/me")).json()["sub"] == "carol"
                assert (await http.get("/items")).status_code == 200
                assert (await http.get("/greeting")).json() == {"hello": "carol"}
        assert application.dependency_overrides == {}

    async def test_a_denial_is_a_proper_403_not_a_500(self, app: tuple[FastAPI, OIDCAuth]) -> None:
        application, auth = app
        with override_principal(application, auth, roles=["nobody"]):
            async for http in _client(application):
                items = await http.get("/items")
                assert items.status_code == 403
                assert 'error="insufficient_scope"' in items.headers["www-authenticate"]
                assert (await http.get("/staff")).status_code == 403
        with override_principal(application, auth, roles=["todo-admin"], scopes=["openid"]):
            async for http in _client(application):
                assert (await http.get("/staff")).status_code == 200

    async def test_after_the_block_the_application_authenticates_again(
        self, app: tuple[FastAPI, OIDCAuth]
    ) -> None:
        application, auth = app
        with override_principal(application, auth, subject="outer"):
            with override_principal(application, auth, subject="inner"):
                async for http in _client(application):
                    assert (await http.get("/me")).json()["sub"] == "inner"
            async for http in _client(application):
                assert (await http.get("/me")).json()["sub"] == "outer"
        with pytest.raises(RuntimeError, match="not started"):
            auth.authenticator_of(application)


def _lifespan_app() -> tuple[FastAPI, OIDCAuth]:
    """The README's shape: the declaration's own lifespan, settings from the environment."""
    auth = OIDCAuth()
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/items")
    async def items(principal: Principal = Security(auth, scopes=["items:read"])) -> list[str]:  # noqa: B008
        return [principal.subject]

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        authenticated = await auth.authenticate_websocket(websocket)
        if authenticated is None:
            return
        principal, _ = authenticated
        await websocket.accept()
        await websocket.send_json({"sub": principal.subject, "roles": sorted(principal.roles)})
        await websocket.close()

    return app, auth


@pytest.fixture
def no_oidc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("OIDC_")]:
        monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_oidc_environment")
def test_with_an_override_the_test_clients_lifespan_needs_no_settings() -> None:
    app, auth = _lifespan_app()
    # Without the override it cannot start: no issuer is configured.
    with pytest.raises(ConfigurationError, match="OIDC_ISSUER_URI"), TestClient(app):
        pass
    with (
        override_principal(app, auth, subject="dana", scopes=["items:read"]),
        TestClient(app) as client,
    ):
        assert client.get("/items").json() == ["dana"]
        assert auth.authenticator_of(app).status()["mode"] == "override"


@pytest.mark.usefixtures("no_oidc_environment")
def test_an_override_covers_websocket_upgrades_with_or_without_a_token() -> None:
    app, auth = _lifespan_app()
    with (
        override_principal(app, auth, subject="erin", roles=["todo-admin"]),
        TestClient(app) as client,
    ):
        with client.websocket_connect("/ws") as socket:  # no token offered at all
            assert socket.receive_json() == {"sub": "erin", "roles": ["todo-admin"]}
        offered = ["authorization_bearer_anything"]
        with client.websocket_connect("/ws", subprotocols=offered) as socket:
            assert socket.receive_json()["sub"] == "erin"


def test_without_an_override_an_upgrade_without_a_token_is_refused(
    verifier: TokenVerifier,
) -> None:
    app, auth = _lifespan_app()
    auth.use(app, verifier)  # adopted: the client runs no lifespan (no `with`)
    with pytest.raises(WebSocketDenialResponse) as denied, TestClient(app).websocket_connect("/ws"):
        pass
    assert denied.value.status_code == 401
    assert denied.value.headers.get_list("www-authenticate")[0].startswith("Bearer")


def test_settings_are_optional_until_start() -> None:
    # Building the object reads nothing; the environment is read at start.
    auth = OIDCAuth()
    assert auth.settings is None
    assert isinstance(OIDCAuth(AuthSettings(mode="static")).settings, AuthSettings)
