"""copier's questions refuse the answers a service could not run with, saying why."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.template.generation import COPIER, TAG

pytestmark = pytest.mark.template


@pytest.mark.parametrize(
    ("answers", "complaint"),
    [
        ({"project_slug": "Acme_Orders"}, "lowercase letters, digits and single dashes"),
        ({"keycloak_realm": "todo"}, "todo is a realm of the test suite"),
        (
            {"identity_provider": "auth0", "oidc_issuer": "https://acme.eu.auth0.com"},
            "Auth0's issuer ends with a slash",
        ),
        (
            {"identity_provider": "entra", "oidc_issuer": "https://login.microsoftonline.com/x"},
            "Entra ID's issuer is",
        ),
        (
            {"identity_provider": "okta", "oidc_issuer": "https://acme.okta.com"},
            "custom authorization server",
        ),
        ({"identity_provider": "generic", "oidc_issuer": "http://idp.example"}, "an https URL"),
        ({"identity_provider": "generic", "oidc_audience": "a b"}, "one audience"),
        ({"database": "postgresql", "database_url": "mysql://db"}, "a postgresql:// URL"),
    ],
)
def test_an_answer_that_cannot_work_is_refused(
    template_repository: Path, tmp_path: Path, answers: dict[str, Any], complaint: str
) -> None:
    given = {
        "project_name": "Acme Orders",
        "oidc_issuer": "https://idp.example/",
        "oidc_audience": "acme",
        **answers,
    }
    data = tmp_path / "answers.json"
    data.write_text(json.dumps(given))
    command = [str(COPIER), "copy", "--trust", "--defaults", f"--vcs-ref={TAG}"]
    result = subprocess.run(
        [*command, f"--data-file={data}", str(template_repository), str(tmp_path / "service")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode != 0
    assert complaint in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "service").exists()
