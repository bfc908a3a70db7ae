"""``uvicorn app.main:app``, the path that bypasses ``python -m app``: it says at start-up
what it lacks, and uvicorn's own request lines still lose their query values."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect  # feature: live

from auth.testing import TestIssuer
from tests.integration.conftest import api_env
from tests.services import ROOT, free_port, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def plain(issuer: TestIssuer, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "uvicorn.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'todo.db'}",
        **api_env(issuer),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200,
            timeout=30,
            what="uvicorn app.main:app",
            log=log,
            process=process,
        )
        yield url, log
    finally:
        process.terminate()
        process.wait(10)


def test_served_by_bare_uvicorn_it_says_what_it_lacks(plain: tuple[str, Path]) -> None:
    _, log = plain
    output = log.read_text()
    assert "not `python -m app`" in output
    for lacking in ("request-head limits", "send deadline", "--no-proxy-headers", "docs/limits.md"):
        assert lacking in output, lacking


def test_bare_uvicorns_own_lines_lose_their_query_values(
    plain: tuple[str, Path], issuer: TestIssuer
) -> None:
    url, log = plain
    secrets = ["C0DE-value", "ST4TE-value"]
    response = httpx.get(f"{url}/healthz?code=C0DE-value&state=ST4TE-value")
    assert response.status_code == 200
    # feature: live begin
    ws_url = url.replace("http://", "ws://") + "/api/ws?ticket=T1CKET-value"
    token = issuer.token("plain-uvicorn")
    secrets += ["T1CKET-value", token.split(".")[2]]
    with connect(ws_url, subprotocols=["todo.v1", f"authorization_bearer_{token}"]) as ws:  # type: ignore[list-item]
        assert '"ready"' in str(ws.recv(timeout=5))
    wait_until(lambda: "WebSocket /api/ws" in log.read_text(), timeout=10, what="uvicorn's line")
    assert "/api/ws?ticket=[redacted]" in log.read_text()
    # feature: live end
    wait_until(lambda: "GET /healthz?" in log.read_text(), timeout=10, what="uvicorn's line")
    output = log.read_text()
    for secret in secrets:
        assert secret not in output, secret
    assert "/healthz?code=[redacted]&state=[redacted]" in output
