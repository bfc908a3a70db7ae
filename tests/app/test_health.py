"""Liveness, readiness (and recovery when the identity provider comes back), OpenAPI, CORS."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from app.observability.throttle import ThrottledLog
from app.settings import TodoAuthSettings
from auth import ConfigurationError
from auth.testing import TestIssuer
from tests.app.conftest import Api, app_settings, auth_settings, running_app
from tests.services import free_port, serve_in_thread

ORIGIN = "http://localhost:5173"


async def test_healthz_answers_without_authentication(api: Api) -> None:
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_tells_strangers_one_word_per_part(api: Api) -> None:
    response = await api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "checks": {
            "database": "ok",
            "auth": "ok",
            "events": "ok",  # feature: live
        },
    }


async def test_the_readiness_detail_is_for_the_admin_role_only(api: Api) -> None:
    assert (await api.client.get("/api/admin/readiness")).status_code == 401
    assert (await api.caller().get("/api/admin/readiness")).status_code == 403
    response = await api.caller(roles=["todo-admin"]).get("/api/admin/readiness")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": True}
    assert checks["auth"]["keys_loaded"] is True
    assert checks["auth"]["issuer"] == api.issuer.issuer
    assert checks["events"]["sockets"] == 0  # feature: live


async def test_idp_down_at_start_is_not_ready_and_503_then_recovers(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    issuer = TestIssuer(f"http://127.0.0.1:{port}/realms/todo")
    settings = auth_settings(issuer, jwks_refetch_cooldown_seconds=1)
    async with running_app(app_settings(database_url), settings) as client:
        headers = {"Authorization": f"Bearer {issuer.token('alice')}"}
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503
        # Down, not wrong: wait for it.
        assert not_ready.json()["checks"]["auth"] == "unavailable"
        # The internal URL that failed is in the log, not in the public answer.
        assert f"127.0.0.1:{port}" not in not_ready.text
        logged = [r.getMessage() for r in caplog.records if r.name == "app.readiness"]
        assert any(f"127.0.0.1:{port}" in line for line in logged)
        unavailable = await client.get("/api/todos", headers=headers)
        assert unavailable.status_code == 503
        assert unavailable.headers["retry-after"]
        assert unavailable.json()["detail"] == "the issuer's signing keys are not available yet"
        with serve_in_thread(issuer.asgi_app(), port):
            # No restart: the verifier retries in the background and on demand.
            for _ in range(100):
                response = await client.get("/api/todos", headers=headers)
                if response.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert response.status_code == 200
            assert (await client.get("/readyz")).status_code == 200


async def test_a_probe_polling_while_not_ready_writes_one_warning_a_minute(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = TestIssuer(f"http://127.0.0.1:{free_port()}/realms/todo")  # nothing there
    async with running_app(app_settings(database_url), auth_settings(issuer)) as client:
        caplog.clear()
        for _ in range(50):
            assert (await client.get("/readyz")).status_code == 503
    warnings = [r for r in caplog.records if r.name == "app.readiness"]
    assert len(warnings) == 1


def test_the_throttle_writes_again_when_what_fails_changes_or_a_minute_has_passed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    throttle = ThrottledLog(logging.getLogger("tests.throttle"), clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="tests.throttle"):
        written = [throttle.log(logging.WARNING, ("auth",), "not ready") for _ in range(5)]
        written.append(throttle.log(logging.WARNING, ("auth", "database"), "not ready"))
        now[0] = 61.0
        written.append(throttle.log(logging.WARNING, ("auth", "database"), "not ready"))
    assert written == [True, False, False, False, False, True, True]
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["not ready", "not ready (4 more like it in the last 60s)", "not ready"]


async def test_a_misconfigured_issuer_is_told_from_one_that_is_down(
    database_url: str, issuer: TestIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    # Outside production a misconfiguration does not stop start-up (a realm may still be
    # being imported); it is reported as such, never as an outage.
    port = free_port()
    good = TestIssuer(f"http://127.0.0.1:{port}/realms/todo")
    typo = f"http://127.0.0.1:{port}/realms/typo"
    entries = [
        {"issuer": good.issuer, "audience": good.audience},
        {"issuer": typo, "audience": good.audience},
    ]
    settings = TodoAuthSettings(issuers=json.dumps(entries))
    with serve_in_thread(good.asgi_app(), port):
        async with running_app(app_settings(database_url), settings) as client:
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"]["auth"] == "misconfigured"
            assert typo not in not_ready.text
            root = good.token("root", realm_access={"roles": ["todo-admin"]})
            admin = {"Authorization": f"Bearer {root}"}
            detail = (await client.get("/api/admin/readiness", headers=admin)).json()
            broken = detail["checks"]["auth"]["issuers"][typo]
            assert broken["state"] == "misconfigured"
            assert broken["fix"].startswith(
                f"the OIDC_ISSUERS entry of {typo}: GET {typo}/.well-known/openid-configuration"
                f" answered 404, so {typo} is not an OpenID provider's issuer: set that entry's"
                " issuer to the issuer exactly as the provider names it"
            )
            # A token of that issuer: 503, saying it is the API's settings, not an outage.
            wrong = TestIssuer(typo, audience=good.audience)
            refused = await client.get(
                "/api/todos", headers={"Authorization": f"Bearer {wrong.token('bob')}"}
            )
            assert refused.status_code == 503
            assert refused.json()["detail"] == (
                "this API's identity provider settings are wrong; its log says which"
            )
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("answered 404" in line and "OIDC_ISSUERS" in line for line in logged)


async def test_in_production_a_misconfigured_issuer_stops_start_up(database_url: str) -> None:
    port = free_port()
    good = TestIssuer(f"http://127.0.0.1:{port}/realms/todo")
    settings = TodoAuthSettings(issuer_uri=good.issuer + "/", audience=good.audience)
    with serve_in_thread(good.asgi_app(), port):
        application = create_app(app_settings(database_url, app_env="production"), settings)
        with pytest.raises(ConfigurationError, match="differ by a trailing slash"):
            async with application.router.lifespan_context(application):
                pass


async def test_openapi_declares_bearer_and_dpop_schemes(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["Bearer"]["type"] == "http"
    assert schemes["Bearer"]["scheme"] == "bearer"
    assert (schemes["DPoP"]["type"], schemes["DPoP"]["name"]) == ("apiKey", "DPoP")
    security = spec["paths"]["/api/todos"]["get"]["security"]
    assert {"Bearer": []} in security
    assert {"DPoP": []} in security
    assert (await api.client.get("/docs")).status_code == 200


async def test_openapi_documents_errors_as_problem_details(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    responses = spec["paths"]["/api/todos/{todo_id}"]["patch"]["responses"]
    for status in ("400", "401", "404", "412", "413", "422", "503"):
        assert list(responses[status]["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["Problem"]["required"] == ["title", "status", "detail"]


async def test_openapi_declares_only_the_errors_each_operation_can_answer(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return {status for status in paths[path][method]["responses"] if status[0] in "45"}

    assert statuses("/api/me", "get") == {"400", "401", "503"}
    assert statuses("/api/admin/stats", "get") == {"400", "401", "403", "503"}
    assert statuses("/api/todos", "get") == {"400", "401", "422", "503"}
    assert statuses("/api/todos", "post") == {"400", "401", "413", "422", "503"}
    assert statuses("/api/todos/{todo_id}", "get") == {"400", "401", "404", "422", "503"}
    assert statuses("/api/todos/{todo_id}", "delete") == {"400", "401", "404", "412", "422", "503"}


async def test_a_body_over_the_limit_is_answered_with_cors_headers(
    cors_client: httpx.AsyncClient,
) -> None:
    # CORS is the outermost middleware: the SPA can read the 413 instead of seeing a
    # CORS failure.
    response = await cors_client.post(
        "/api/todos", content=b"x" * 70_000, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 413
    assert response.headers["access-control-allow-origin"] == ORIGIN


@pytest.fixture
async def cors_client(database_url: str, issuer: TestIssuer) -> AsyncIterator[httpx.AsyncClient]:
    settings = app_settings(database_url, cors_origins=(ORIGIN,))
    async with running_app(settings, auth_settings(issuer)) as client:
        yield client


async def test_cors_preflight_allows_authorization_and_dpop(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.options(
        "/api/todos",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, dpop, if-match, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "dpop", "if-match"):
        assert header in allowed


async def test_cors_exposes_auth_and_concurrency_headers(cors_client: httpx.AsyncClient) -> None:
    response = await cors_client.get("/api/todos", headers={"Origin": ORIGIN})
    exposed = response.headers["access-control-expose-headers"].lower()
    for header in ("www-authenticate", "dpop-nonce", "etag", "location"):
        assert header in exposed


async def test_cors_refuses_unknown_origins(cors_client: httpx.AsyncClient) -> None:
    headers = {"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"}
    response = await cors_client.options("/api/todos", headers=headers)
    assert "access-control-allow-origin" not in response.headers
