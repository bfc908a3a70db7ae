"""``python -m auth.doctor`` as users run it: a subprocess, a real issuer over HTTP, the
token as an argument or on stdin, the issuer from flags or from the OIDC_* environment;
and the server side of the same question: a refusal logged with its check name only."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest

from auth.testing import TestIssuer
from tests.integration.conftest import Server
from tests.services import ROOT, free_port, serve_in_thread, wait_until

pytestmark = pytest.mark.integration


def _doctor(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "auth.doctor", *args],
        input=stdin,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_accepted_token_given_as_an_argument(issuer: TestIssuer) -> None:
    result = _doctor("--issuer", issuer.issuer, "--audience", issuer.audience, issuer.token())
    assert result.returncode == 0, result.stdout + result.stderr
    assert " PASS signature " in result.stdout
    assert result.stdout.rstrip().endswith("result: accepted")


def test_a_refused_token_on_stdin_with_the_settings_from_the_environment(
    issuer: TestIssuer,
) -> None:
    token = issuer.token(aud="another-api")
    result = _doctor(
        stdin=token + "\n",
        env={"OIDC_ISSUER_URI": issuer.issuer, "OIDC_AUDIENCE": issuer.audience},
    )
    assert result.returncode == 1
    assert " FAIL aud " in result.stdout
    assert "fix:" in result.stdout
    assert result.stdout.rstrip().endswith("result: refused at aud")
    assert token.rsplit(".", 1)[1] not in result.stdout


def test_no_issuer_is_a_usage_error() -> None:
    result = _doctor("x.y.z")
    assert result.returncode == 2
    assert "--issuer" in result.stderr


def test_the_json_report_and_its_exit_code(issuer: TestIssuer) -> None:
    token = issuer.token(aud="another-api")
    result = _doctor(
        "--json", "--show-claims", "--issuer", issuer.issuer, "--audience", issuer.audience, token
    )
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert (document["result"], document["exit_code"]) == ("refused", 1)
    assert document["decided_by"]["check"] == "aud"
    assert document["claims"]["aud"] == "another-api"
    assert token.rsplit(".", 1)[1] not in result.stdout


SECRET = "s3cret-of-svc"


@pytest.fixture(scope="module")
def token_endpoint(issuer: TestIssuer) -> Iterator[str]:
    """The test issuer with a client-credentials token endpoint for client ``svc``: its
    discovery document names it, and it issues a token only for the right secret."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Mount, Route

    port = free_port()
    base = f"http://127.0.0.1:{port}"

    async def discovery(_: Request) -> Response:
        return JSONResponse({**issuer.discovery_document(), "token_endpoint": f"{base}/token"})

    async def token(request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"svc:{SECRET}".encode()).decode()
        form = parse_qs((await request.body()).decode())
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        assert form["grant_type"] == ["client_credentials"]
        return JSONResponse(
            {"access_token": issuer.token("svc"), "token_type": "Bearer", "expires_in": 300}
        )

    app = Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/token", token, methods=["POST"]),
            Mount("/", issuer.asgi_app()),
        ]
    )
    with serve_in_thread(app, port):
        yield f"{base}/.well-known/openid-configuration"


def _with_client(issuer: TestIssuer, discovery: str, *args: str) -> tuple[str, ...]:
    return (
        "--issuer", issuer.issuer, "--audience", issuer.audience, "--discovery-uri", discovery,
        "--client-id", "svc", *args,
    )  # fmt: skip


def test_the_client_secret_is_read_from_the_environment(
    issuer: TestIssuer, token_endpoint: str
) -> None:
    result = _doctor(
        *_with_client(issuer, token_endpoint), env={"OIDC_DOCTOR_CLIENT_SECRET": SECRET}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "subject='svc'" in result.stdout


def test_the_client_secret_is_read_from_stdin(issuer: TestIssuer, token_endpoint: str) -> None:
    result = _doctor(*_with_client(issuer, token_endpoint, "--client-secret", "-"), stdin=SECRET)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_secret_is_undecided_not_refused(issuer: TestIssuer, token_endpoint: str) -> None:
    result = _doctor(
        *_with_client(issuer, token_endpoint), env={"OIDC_DOCTOR_CLIENT_SECRET": "wrong"}
    )
    assert result.returncode == 3
    assert "no token from the issuer" in result.stderr
    assert "wrong" not in result.stderr


def test_a_secret_as_an_argument_is_refused(issuer: TestIssuer, token_endpoint: str) -> None:
    result = _doctor(*_with_client(issuer, token_endpoint, "--client-secret", SECRET))
    assert result.returncode == 2
    assert "OIDC_DOCTOR_CLIENT_SECRET" in result.stderr
    assert result.stdout == ""


def test_the_server_logs_a_refusals_check_at_info_and_nothing_of_the_token(
    server: Server,
) -> None:
    token = server.issuer.token("mallory", aud="another-api")
    response = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "check" not in response.json()  # terse: the check name stays in the log
    wait_until(lambda: "refused aud" in server.api.output(), timeout=5, what="the log line")
    log = server.api.output()
    [line] = [line for line in log.splitlines() if "refused aud (invalid_token 401)" in line]
    assert "[info" in line
    assert "[auth.fastapi]" in line
    for part in token.split("."):
        assert part[:24] not in log
