"""What a user of the wheel sees under a plain ``uvicorn app:app``, with no logging set up:
a refusal's check (rate-limited, never the token), a setting that is no setting, an
invalid value, and an identity provider whose answer can never work, each as a sentence
on stderr. The user's project has its own ``auth.py``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auth.testing import TestIssuer
from tests.distribution.conftest import PACKAGE, Virtualenv, user_project
from tests.services import _stop, free_port, serve_in_thread, wait_until

pytestmark = pytest.mark.wheel

APP = f'''"""app.py: the smallest protected API."""

from fastapi import FastAPI, Security

from {PACKAGE} import Principal
from {PACKAGE}.fastapi import OIDCAuth

oidc = OIDCAuth()
app = FastAPI(lifespan=oidc.lifespan)


@app.get("/me")
async def me(user: Principal = Security(oidc)) -> str:
    return user.subject
'''


@pytest.fixture
def issuer() -> Iterator[TestIssuer]:
    port = free_port()
    issuer = TestIssuer(f"http://127.0.0.1:{port}/realms/todo")
    with serve_in_thread(issuer.asgi_app(), port):
        yield issuer


def _uvicorn(venv: Virtualenv, project: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    (project / "app.py").write_text(APP)
    log = project / "uvicorn.log"
    with log.open("wb") as output:
        return subprocess.Popen(
            [str(venv.python), "-m", "uvicorn", "app:app", "--port", str(free_port())],
            cwd=project,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": "", **env},
            stdout=subprocess.DEVNULL,
            stderr=output,
        )


def _stderr(project: Path) -> str:
    return (project / "uvicorn.log").read_text()


def _port(process: subprocess.Popen[bytes]) -> int:
    args = [str(arg) for arg in process.args]  # type: ignore[union-attr]
    return int(args[args.index("--port") + 1])


def test_a_refusal_and_an_unknown_setting_are_visible_without_logging_set_up(
    fastapi_venv: Virtualenv, issuer: TestIssuer, tmp_path: Path
) -> None:
    project = user_project(tmp_path / "project")
    env = {
        "OIDC_ISSUER_URI": issuer.issuer,
        "OIDC_AUDIENCE": issuer.audience,
        "OIDC_ACCEPT_JWT_TYP": "jwt",  # the old name of OIDC_ACCEPTED_TYP
    }
    process = _uvicorn(fastapi_venv, project, env)
    base = f"http://127.0.0.1:{_port(process)}"
    try:
        wait_until(
            lambda: httpx.get(f"{base}/me").status_code == 401,
            timeout=30,
            what="plain uvicorn serving the user's app",
            log=project / "uvicorn.log",
            process=process,
        )
        assert httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {issuer.token()}"}).text
        token = issuer.token(aud="someone-else")
        for _ in range(3):
            refused = httpx.get(f"{base}/me", headers={"Authorization": f"Bearer {token}"})
            assert refused.status_code == 401
    finally:
        _stop(process)
    stderr = _stderr(project)
    assert (
        f"OIDC_ACCEPT_JWT_TYP is not a setting of {PACKAGE} and is ignored: "
        "it was replaced by OIDC_ACCEPTED_TYP"
    ) in stderr
    lines = [line for line in stderr.splitlines() if "refused a request at check aud" in line]
    assert lines == [
        f"{PACKAGE} refused a request at check aud (invalid_token, 401): "
        "the token is meant for another audience"
    ]
    assert token.split(".")[1][:16] not in stderr  # never any token content


@pytest.mark.parametrize(
    ("setting", "sentence"),
    [
        (
            {"OIDC_ROLE_CLAIMS": "realm_access/roles"},
            "invalid settings: OIDC_ROLE_CLAIMS: 'realm_access/roles' is ambiguous: write "
            "/realm_access/roles for a JSON Pointer",
        ),
        ({"OIDC_AUDIENCE": ""}, "OIDC_AUDIENCE is not set: verifying access tokens needs"),
    ],
)
def test_a_bad_setting_stops_plain_uvicorn_with_one_sentence(
    fastapi_venv: Virtualenv,
    issuer: TestIssuer,
    tmp_path: Path,
    setting: dict[str, str],
    sentence: str,
) -> None:
    project = user_project(tmp_path / "project")
    env = {"OIDC_ISSUER_URI": issuer.issuer, "OIDC_AUDIENCE": issuer.audience} | setting
    process = _uvicorn(fastapi_venv, project, env)
    assert process.wait(timeout=30) != 0
    stderr = _stderr(project)
    assert sentence in stderr
    assert "pydantic" not in stderr  # no validation report, no pydantic traceback


def test_a_misconfigured_issuer_stops_plain_uvicorn_naming_the_fix(
    fastapi_venv: Virtualenv, issuer: TestIssuer, tmp_path: Path
) -> None:
    project = user_project(tmp_path / "project")
    env = {"OIDC_ISSUER_URI": issuer.issuer + "/", "OIDC_AUDIENCE": issuer.audience}
    process = _uvicorn(fastapi_venv, project, env)
    assert process.wait(timeout=30) != 0
    assert (
        f"but the provider's discovery document names the issuer {issuer.issuer} (they "
        f"differ by a trailing slash, which counts): set OIDC_ISSUER_URI to {issuer.issuer} "
        "exactly"
    ) in _stderr(project)
