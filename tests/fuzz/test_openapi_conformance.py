"""schemathesis against the API as users run it: ``python -m app`` under uvicorn, the
verifier in ``verify`` mode trusting a test issuer over loopback, a signed token. Every
check, deterministic generation (schemathesis.toml beside this file): any finding fails
the tier, so the OpenAPI document and the server cannot drift apart. The canaries hand
it documents that lie the way this one once did, to show that it notices."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import api_env
from tests.services import ApiProcess, api_process, issuer_server

pytestmark = pytest.mark.fuzz

CONFIG = Path(__file__).with_name("schemathesis.toml")


@dataclass
class Target:
    api: ApiProcess
    token: str

    @property
    def document(self) -> dict[str, Any]:
        spec: dict[str, Any] = httpx.get(f"{self.api.base_url}/openapi.json").json()
        return spec

    def schemathesis(self, location: str, *options: str, cwd: Path) -> str:
        """Run ``st run`` with this tier's configuration; its report, whatever the outcome."""
        run = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG)),
                *("run", location, "--url", self.api.base_url, "--checks", "all", "--no-color"),
                *options,
            ],
            env={**os.environ, "TODO_FUZZ_TOKEN": self.token},
            cwd=cwd,  # its example and cache folders land in the test's own directory
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        report = f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
        if (code := self.api.process.poll()) is not None:  # say why requests were refused
            report += f"\nthe API exited ({code}) during the run:\n{self.api.output()[-3000:]}"
        return report


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with (
        issuer_server() as issuer,
        api_process(
            api_env(issuer, API_ACCESS_LOG="false"), workdir=tmp_path_factory.mktemp("api")
        ) as api,
    ):
        # One caller with both roles, so that the admin views answer 200 and not only 403.
        roles = {"roles": ["todo-user", "todo-admin"]}
        token = issuer.token("fuzzer", exp=int(time.time()) + 3600, realm_access=roles)
        yield Target(api, token)


def test_the_server_does_what_its_openapi_document_says(target: Target, tmp_path: Path) -> None:
    report = target.schemathesis(f"{target.api.base_url}/openapi.json", cwd=tmp_path)
    assert report.startswith("exit 0\n"), report
    operations = sum(len(path) for path in target.document["paths"].values())
    assert f"Tested: {operations}\n" in report, report
    generated = re.search(r"(\d+) generated, \1 passed", report)
    assert generated, report
    assert int(generated[1]) >= 400, report  # it ran what it promises


def _without_page_size_maximum(spec: dict[str, Any]) -> None:
    for documented in spec["paths"]["/api/todos"]["get"]["parameters"]:
        documented["schema"].pop("maximum", None)


def _with_nullable_patch_fields(spec: dict[str, Any]) -> None:
    for field in spec["components"]["schemas"]["TodoUpdate"]["properties"].values():
        field["type"] = [field["type"], "null"]


def _without_if_match_syntax(spec: dict[str, Any]) -> None:
    for documented in spec["paths"]["/api/todos/{todo_id}"]["patch"]["parameters"]:
        documented["schema"].pop("pattern", None)


@pytest.mark.parametrize(
    ("lie", "operation"),
    [
        (_without_page_size_maximum, "GET /api/todos"),
        (_with_nullable_patch_fields, "PATCH /api/todos/{todo_id}"),
        (_without_if_match_syntax, "PATCH /api/todos/{todo_id}"),
    ],
)
def test_a_document_that_lies_about_the_server_is_a_finding(
    target: Target, tmp_path: Path, lie: Callable[[dict[str, Any]], None], operation: str
) -> None:
    spec = target.document
    lie(spec)
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    report = target.schemathesis(
        str(tmp_path / "openapi.json"),
        *("--include-name", operation, "--phases", "coverage,fuzzing"),
        cwd=tmp_path,
    )
    assert report.startswith("exit 1\n"), report
    assert "Schema-valid request rejected" in report, report
