"""``python -m auth.doctor`` against Keycloak: it obtains a token itself with client
credentials (authlib) and explains the refusal with the Keycloak client setting to change."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.e2e.conftest import AUDIENCE
from tests.services import ROOT, KeycloakServer

pytestmark = pytest.mark.e2e


def _doctor(keycloak: KeycloakServer, audience: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "auth.doctor",
            "--issuer",
            keycloak.issuer(),
            "--audience",
            audience,
            "--client-id",
            "todo-test",
        ],
        # The secret never on the command line: the process list would show it.
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "OIDC_DOCTOR_CLIENT_SECRET": "todo-test-secret",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_doctor_fetches_a_keycloak_token_and_accepts_it(keycloak: KeycloakServer) -> None:
    result = _doctor(keycloak, AUDIENCE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "result: accepted" in result.stdout


def test_the_doctor_explains_a_refused_keycloak_token(keycloak: KeycloakServer) -> None:
    result = _doctor(keycloak, "billing-api")
    print(result.stdout)  # the report, for the record of the run
    assert result.returncode == 1
    assert " FAIL aud " in result.stdout
    assert "Audience mapper" in result.stdout
    assert "result: refused at aud" in result.stdout
    # Keycloak's times beside their ISO 8601 form.
    assert re.search(r"exp=\d+ \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)", result.stdout)
