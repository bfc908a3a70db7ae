"""The fast and integration tiers on the other Python versions the project supports,
each in a container of that version (compose/python-tests.Dockerfile): the checkout
mounted read-only, `uv sync --frozen` into a virtualenv of the container's interpreter,
then pytest. The host's own interpreter runs the same tiers in `make test` itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import certifi
import pytest

from tests.compose.stack import (
    CACHE,
    PYTHON_TESTS_BASES,
    ROOT,
    Engine,
    build_ca_certs,
    build_python_tests_image,
)

pytestmark = [pytest.mark.python_versions, pytest.mark.timeout(1800)]

#: Every tier but those that need Keycloak, Chromium, Node or Go servers, the wheel
#: builds, the fuzzer, containers, and copier's generated services (the template tier):
#: the fast tiers, integration, pg and redis.
SELECTION = (
    "not e2e and not servers and not wheel and not fuzz and not compose and not python_versions"
    " and not browser"  # feature: frontend-mock
    " and not template"  # feature: template
)


def _ca_bundle() -> Path | None:
    """certifi's bundle plus the host's extra CAs, for uv inside the container (PyPI
    through a proxy that re-signs TLS); None when the host has no extra CA."""
    extra = build_ca_certs()
    if not extra:
        return None
    bundle = CACHE / "python-tests-ca.pem"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_text(Path(certifi.where()).read_text() + extra)
    return bundle


@pytest.mark.parametrize("version", sorted(PYTHON_TESTS_BASES))
def test_the_fast_and_integration_tiers_pass_on(
    version: str, docker_engine: Engine, images: dict[str, str]
) -> None:
    image = build_python_tests_image(docker_engine, images, version)
    command = [
        "docker",
        "run",
        "--rm",
        "--volume",
        f"{ROOT}:/src:ro",
        # uv's cache in a volume of the engine: kept between runs, never root-owned
        # files in the checkout's cache.
        "--volume",
        f"todo-oidc-uv-cache-{version}:/root/.cache/uv",
        "--workdir",
        "/src",
        "--env",
        "UV_PROJECT_ENVIRONMENT=/venv",
        "--env",
        "UV_PYTHON_DOWNLOADS=never",
        "--env",
        "UV_LINK_MODE=copy",
        "--env",
        "PYTHONDONTWRITEBYTECODE=1",
    ]
    if bundle := _ca_bundle():
        command += ["--volume", f"{bundle}:/run/ca.pem:ro", "--env", "SSL_CERT_FILE=/run/ca.pem"]
    script = (
        "set -e; python --version; uv sync --frozen --quiet; "
        f'exec /venv/bin/pytest -p no:cacheprovider -q -m "{SELECTION}"'
    )
    command += [image, "sh", "-c", script]
    result = subprocess.run(
        command,
        env=docker_engine.env(),
        capture_output=True,
        text=True,
        timeout=1700,
        check=False,
    )
    output, status = result.stdout + result.stderr, result.returncode
    print(output[-6000:])  # the run's report, for the record
    assert output.startswith(f"Python {version}."), output[-2000:]
    assert status == 0, output[-8000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), summary
    assert not re.search(r"failed|skipped|xfailed|xpassed|error", summary), summary
