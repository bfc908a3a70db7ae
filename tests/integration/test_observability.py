"""What ``python -m app`` writes and serves for operators: JSON log lines, /metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from auth.testing import TestIssuer
from tests.integration.conftest import api_env
from tests.services import ROOT, api_process, free_port

pytestmark = pytest.mark.integration


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every line of the server's output, each of which must be one JSON object."""
    lines = [line for line in output.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_production_logs_are_json_lines_and_a_refusal_names_its_check_not_the_token(
    issuer: TestIssuer, tmp_path: Path
) -> None:
    env = api_env(
        issuer, APP_ENV="production", METRICS="port", METRICS_LISTEN=f"127.0.0.1:{free_port()}"
    )
    with api_process(env, workdir=tmp_path) as api:
        token = issuer.token("mallory", aud="another-api")
        refused = httpx.get(
            f"{api.base_url}/api/todos?note=hi", headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 401
        request_id = refused.headers["x-request-id"]
        accepted = httpx.get(
            f"{api.base_url}/api/me", headers={"Authorization": f"Bearer {issuer.token('alice')}"}
        )
        assert accepted.status_code == 200
        metrics = httpx.get(f"http://{env['METRICS_LISTEN']}/metrics")
        deadline = time.monotonic() + 10
        while request_id not in api.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        output = api.output()

    lines = json_lines(output)  # every line, uvicorn's and alembic's too, is JSON
    assert all({"timestamp", "level", "logger", "event"} <= line.keys() for line in lines)
    same_request = [line for line in lines if line.get("request_id") == request_id]
    # The adapter's own lines about the refusal carry the request id too: the one per
    # refusal, and the first of its check this minute.
    assert {line["logger"] for line in same_request} == {
        "app.access",
        "auth.fastapi",
        "auth.refusals",
    }
    [line] = [line for line in same_request if line["logger"] == "app.access"]
    assert (line["method"], line["route"], line["path"], line["status"]) == (
        "GET",
        "/api/todos",
        "/api/todos?note=[redacted]",
        401,
    )
    assert (line["auth_outcome"], line["auth_check"]) == ("invalid_token", "aud")
    assert token not in output
    assert token.split(".")[2] not in output  # nor its signature alone
    assert sum(1 for line in lines if line.get("path") == "/api/me") == 1  # one access log

    families = {family.name: family for family in text_string_to_metric_families(metrics.text)}
    auth_outcomes = {
        (sample.labels["outcome"], sample.labels["check"]): sample.value
        for sample in families["auth_requests"].samples
    }
    assert auth_outcomes[("invalid_token", "aud")] == 1
    assert auth_outcomes[("ok", "")] == 1


def test_a_bad_setting_in_the_env_file_is_named_in_one_sentence(
    issuer: TestIssuer, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("OIDC_LEEWAY_SECONDS=9999\nLOG_SUBJECT_KEY=hunter2\n")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **api_env(issuer)}
    result = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: invalid settings: OIDC_LEEWAY_SECONDS: ")
    assert "Traceback" not in result.stderr
    assert "9999" not in result.stderr  # values are not echoed: one may be a secret


# feature: live begin
async def test_a_websocket_upgrade_is_logged_once_with_its_query_values_redacted(
    issuer: TestIssuer, tmp_path: Path
) -> None:
    from websockets.asyncio.client import connect

    from tests.integration.conftest import receive_json
    from tests.services import wait_until

    with api_process(api_env(issuer, LOG_FORMAT="json"), workdir=tmp_path) as api:
        url = api.base_url.replace("http://", "ws://") + "/api/ws?ticket=T1cket&session=S3ssion"
        token = issuer.token("ws-logged")
        async with connect(url, subprotocols=["todo.v1", f"authorization_bearer_{token}"]) as ws:  # type: ignore[list-item]
            assert (await receive_json(ws))["type"] == "ready"
        wait_until(lambda: "WEBSOCKET" in api.output(), timeout=10, what="the access line")
        output = api.output()
    assert "T1cket" not in output
    assert "S3ssion" not in output
    assert '"WebSocket ' not in output  # uvicorn's own line, with the whole target
    [line] = [line for line in json_lines(output) if line.get("method") == "WEBSOCKET"]
    assert line["path"] == "/api/ws?ticket=[redacted]&session=[redacted]"
    assert line["status"] == 101


# feature: live end
