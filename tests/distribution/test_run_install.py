"""What ``make run`` installs: the application's dependencies, none of the test and lint
tools, and ``python -m app`` serves from that environment alone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.distribution.conftest import UV, Virtualenv, run
from tests.services import ROOT, free_port, wait_until

pytestmark = pytest.mark.wheel

DEVELOPMENT_TOOLS = {"pytest", "playwright", "ruff", "mypy", "schemathesis", "pytest-httpx"}


def test_the_run_environment_has_the_app_and_no_development_tools(tmp_path: Path) -> None:
    venv = Virtualenv(tmp_path / "venv")
    # The command of the Makefile's run environment, into a virtualenv of its own.
    makefile = (ROOT / "Makefile").read_text()
    assert "sync --frozen --no-dev --inexact" in makefile
    run(
        UV, "sync", "--frozen", "--no-dev", cwd=ROOT, env={"UV_PROJECT_ENVIRONMENT": str(venv.path)}
    )
    installed = venv.installed()
    assert {"fastapi", "uvicorn", "sqlmodel", "alembic"} <= installed
    assert not installed & DEVELOPMENT_TOOLS

    port = free_port()
    log = tmp_path / "api.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [venv.python, "-m", "app", "--dev", "--port", str(port)],
            cwd=tmp_path,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200,
            timeout=30,
            what="python -m app from the run environment",
            log=log,
            process=process,
        )
        assert httpx.get(f"{url}/api/me").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
