"""``python -m auth.doctor`` as users run it: a subprocess, a real issuer over HTTP, the
token as an argument or on stdin, the issuer from flags or from the OIDC_* environment;
and the server side of the same question: a refusal logged with its check name only."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from auth.testing import TestIssuer
from tests.integration.conftest import Server
from tests.services import ROOT, wait_until

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
