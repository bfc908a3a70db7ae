"""The real server over real HTTP: tokens, DPoP with the URL as the server sees it,
untrusted forwarded headers, redacted access logs, start-up refusals, restarts."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from starlette.responses import PlainTextResponse

from auth.testing import DpopKey, TestIssuer
from tests.integration.conftest import Server, api_env
from tests.services import ROOT, api_process, free_port, serve_in_thread, wait_until

pytestmark = pytest.mark.integration


def test_bearer_token_over_real_http(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/me", headers=server.bearer("alice"))
    assert response.status_code == 200
    assert response.json()["subject"] == "alice"


def test_dpop_proof_for_the_servers_own_url_is_accepted(server: Server) -> None:
    key = DpopKey()
    token = server.issuer.token("carol", dpop_key=key)
    proof = key.proof("GET", f"{server.url}/api/me", access_token=token)
    response = httpx.get(
        f"{server.url}/api/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 200
    assert response.json()["dpop_bound"] is True


def test_dpop_proof_for_another_host_is_refused(server: Server) -> None:
    key = DpopKey()
    token = server.issuer.token("carol", dpop_key=key)
    other = f"http://localhost:{server.api.port}/api/me"
    proof = key.proof("GET", other, access_token=token)
    response = httpx.get(
        f"{server.url}/api/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_dpop_proof"


def test_untrusted_forwarded_headers_do_not_change_the_expected_url(server: Server) -> None:
    key = DpopKey()
    token = server.issuer.token("carol", dpop_key=key)
    forged = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "api.example",
        "Forwarded": "proto=https;host=api.example",
    }
    claimed = key.proof("GET", "https://api.example/api/me", access_token=token)
    response = httpx.get(
        f"{server.url}/api/me",
        headers={"Authorization": f"DPoP {token}", "DPoP": claimed, **forged},
    )
    assert response.status_code == 401
    real = key.proof("GET", f"{server.url}/api/me", access_token=token)
    response = httpx.get(
        f"{server.url}/api/me", headers={"Authorization": f"DPoP {token}", "DPoP": real, **forged}
    )
    assert response.status_code == 200


def test_access_log_never_contains_a_token(server: Server) -> None:
    token = server.issuer.token("alice")
    response = httpx.get(f"{server.url}/api/todos", params={"access_token": token})
    assert response.status_code == 400
    # The access line is written once the response has gone.
    wait_until(
        lambda: "/api/todos?access_token=[redacted]" in server.api.output(),
        timeout=5,
        what="the access line",
    )
    log = server.api.output()
    assert token not in log
    assert token.split(".")[1] not in log


def test_challenges_are_sent_as_separate_header_fields(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/todos")
    assert response.status_code == 401
    metadata = f'resource_metadata="{server.url}/.well-known/oauth-protected-resource"'
    assert response.headers.get_list("www-authenticate") == [
        f'Bearer realm="todo-api", {metadata}',
        f'DPoP realm="todo-api", {metadata}, '
        'algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519"',
    ]


def _start_and_fail(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Not in the checkout: a .env there (a developer's, a generated service's) would be read.
    with tempfile.TemporaryDirectory() as workdir:
        return subprocess.run(
            [sys.executable, "-m", "app"],
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def test_verify_mode_without_issuer_refuses_to_start_with_one_sentence() -> None:
    result = _start_and_fail({"OIDC_MODE": "verify"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: OIDC_ISSUER_URI and OIDC_AUDIENCE are not set: verifying access tokens needs "
        "the issuer they come from and the audience this API answers to (or OIDC_ISSUERS for "
        "several issuers; or OIDC_MODE=static for development)"
    )


def test_mock_modes_refuse_to_start_in_production() -> None:
    for mode in ("static", "decode_only"):
        result = _start_and_fail({"OIDC_MODE": mode, "APP_ENV": "production"})
        assert result.returncode == 2
        assert f"OIDC_MODE={mode} does not authenticate anyone and is refused in production" in (
            result.stderr
        )


def test_static_mode_prints_a_loud_banner_and_serves_without_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with api_process({"OIDC_MODE": "static"}, workdir=tmp_path) as api:
        assert httpx.get(f"{api.base_url}/api/me").json()["subject"] == "dev-user"
        assert "requests are NOT authenticated" in api.output()


def test_todos_survive_a_server_restart(issuer: TestIssuer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {issuer.token('restart-user')}"}
    with api_process(api_env(issuer), workdir=tmp_path) as api:
        created = httpx.post(f"{api.base_url}/api/todos", json={"text": "durable"}, headers=headers)
        assert created.status_code == 201
    with api_process(api_env(issuer), workdir=tmp_path) as api:
        listed = httpx.get(f"{api.base_url}/api/todos", headers=headers).json()["items"]
        assert [item["id"] for item in listed] == [created.json()["id"]]


def test_an_issuer_that_can_never_work_stops_start_up_with_its_sentence_last(
    tmp_path: Path,
) -> None:
    # Every path answers 404: no OpenID provider is at this issuer, and waiting will not
    # change that. In production the server stops, and the last thing it says is the
    # setting and its fix, not the frames of the framework that carried the exception.
    port = free_port()
    with serve_in_thread(PlainTextResponse("not here", status_code=404), port):
        result = _start_and_fail(
            {
                "APP_ENV": "production",
                "OIDC_MODE": "verify",
                "OIDC_ISSUER_URI": f"http://127.0.0.1:{port}/realms/todo",
                "OIDC_AUDIENCE": "todo-api",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'todo.db'}",
                "API_LISTEN": f"127.0.0.1:{free_port()}",
                "LOG_FORMAT": "text",
            }
        )
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    *_, refusal, exiting = lines
    assert "[error" in refusal, refusal
    assert f"OIDC_ISSUER_URI: GET http://127.0.0.1:{port}/realms/todo/" in refusal
    assert "(set OIDC_IF_MISCONFIGURED=retry to start anyway and keep retrying)" in refusal
    assert "Application startup failed. Exiting." in exiting
