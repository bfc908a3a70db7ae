"""``python -m app`` as a command line: its options, the development identity only when
``OIDC_MODE`` is set nowhere, and ``--reload``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from auth.testing import TestIssuer
from tests.services import ROOT, api_process, free_port, wait_until

pytestmark = pytest.mark.integration


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_the_options_and_starts_nothing(tmp_path: Path) -> None:
    result = _run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--host", "--port", "--reload", "--dev"):
        assert option in result.stdout
    assert not (tmp_path / "todo.db").exists()  # no migration ran


def test_an_unknown_option_is_refused(tmp_path: Path) -> None:
    result = _run("--prot", "8000", cwd=tmp_path)
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr


def test_dev_without_oidc_mode_anywhere_is_the_development_identity(tmp_path: Path) -> None:
    with api_process({}, workdir=tmp_path, args=["--dev"]) as api:
        me = httpx.get(f"{api.base_url}/api/me")
        assert me.status_code == 200
        assert "todo-admin" in me.json()["roles"]


def test_dev_respects_the_mode_of_the_env_file(issuer: TestIssuer, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"OIDC_MODE=verify\nOIDC_ISSUER_URI={issuer.issuer}\nOIDC_AUDIENCE={issuer.audience}\n"
    )
    with api_process({}, workdir=tmp_path, args=["--dev"]) as api:
        assert httpx.get(f"{api.base_url}/api/me").status_code == 401
        token = issuer.token("alice", roles=["todo-user"])
        me = httpx.get(f"{api.base_url}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json()["subject"] == "alice"


def test_dev_never_turns_production_into_the_development_identity(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("APP_ENV=production\n")
    result = _run("--dev", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "OIDC_ISSUER_URI" in result.stderr


def test_port_overrides_the_listen_setting(tmp_path: Path) -> None:
    port = free_port()
    env = {"OIDC_MODE": "static", "API_LISTEN": "127.0.0.1:1"}  # port 1: never reached
    with api_process(env, workdir=tmp_path, port=port, args=["--port", str(port)]) as api:
        assert httpx.get(f"{api.base_url}/healthz").status_code == 200


def _copy_of_the_code(destination: Path) -> Path:
    for name in ("app", "auth", "migrations"):
        shutil.copytree(
            ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "alembic.ini", destination / "alembic.ini")
    return destination


def test_reload_serves_the_changed_code(tmp_path: Path) -> None:
    code = _copy_of_the_code(tmp_path / "code")
    workdir = tmp_path / "run"
    workdir.mkdir()
    port = free_port()
    env = {"OIDC_MODE": "static", "API_LISTEN": f"127.0.0.1:{port}"}
    with api_process(env, workdir=workdir, port=port, args=["--reload"], root=code) as api:
        assert httpx.get(f"{api.base_url}/api/me").json()["subject"] == "dev-user"
        # A change to the code: the static identity's default subject.
        settings = code / "app" / "settings.py"
        settings.write_text(
            settings.read_text().replace(
                'realm: str | None = "todo-api"',
                'realm: str | None = "todo-api"\n    static_subject: str = "reloaded"',
            )
        )

        def reloaded() -> bool:
            subject: str = httpx.get(f"{api.base_url}/api/me", timeout=1).json()["subject"]
            return subject == "reloaded"

        wait_until(reloaded, timeout=30, what="the reloaded worker", log=api.log)
