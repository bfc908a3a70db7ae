"""``python -m auth.doctor`` against Keycloak: it obtains a token itself with client
credentials (authlib) and explains the refusal with the Keycloak client setting to change."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.e2e.conftest import Realm
from tests.services import ROOT

pytestmark = pytest.mark.e2e


def _doctor(realm: Realm, audience: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "auth.doctor",
            "--issuer",
            realm.issuer,
            "--audience",
            audience,
            "--client-id",
            realm.targets.client_id,
        ],
        # The secret never on the command line: the process list would show it.
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "OIDC_DOCTOR_CLIENT_SECRET": realm.targets.client_secret.get_secret_value(),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_doctor_fetches_a_keycloak_token_and_accepts_it(realm: Realm) -> None:
    result = _doctor(realm, realm.targets.audience)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "result: accepted" in result.stdout


def test_the_doctor_explains_a_refused_keycloak_token(realm: Realm) -> None:
    result = _doctor(realm, "billing-api")
    print(result.stdout)  # the report, for the record of the run
    assert result.returncode == 1
    assert " FAIL aud " in result.stdout
    assert "Audience mapper" in result.stdout
    assert "result: refused at aud" in result.stdout
    # Keycloak's times beside their ISO 8601 form.
    assert re.search(r"exp=\d+ \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)", result.stdout)
