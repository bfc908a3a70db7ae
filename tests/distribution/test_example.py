"""auth/README.md's example application, run as a user would: the wheel installed in a
fresh virtualenv (outside this repository), the example copied out of the README into a
project that has its own ``auth.py``, served by uvicorn, and called with tokens from
three real authorization servers: Keycloak, node-oidc-provider (DPoP with nonces) and
Ory Hydra."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests

from tests.authorization_servers import RESOURCE, AuthorizationServer
from tests.distribution.conftest import Virtualenv, user_project
from tests.e2e.conftest import Realm
from tests.servers.conftest import oauth_client
from tests.services import ROOT, KeycloakServer, _stop, free_port, wait_until

pytestmark = [pytest.mark.wheel, pytest.mark.servers, pytest.mark.e2e]

EXAMPLE = re.compile(r"<!-- example: items\.py.*?-->\n```python\n(.*?)```", re.DOTALL)


def example_source() -> str:
    match = EXAMPLE.search((ROOT / "auth" / "README.md").read_text())
    assert match, "auth/README.md lost its example"
    return match.group(1)


def test_the_example_is_about_thirty_lines() -> None:
    code = [line for line in example_source().splitlines() if line.strip()]
    assert len(code) <= 40


@contextlib.contextmanager
def serve_example(venv: Virtualenv, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    (user_project(workdir) / "items.py").write_text(example_source())
    port = free_port()
    log = workdir / f"items-{port}.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(venv.python), "-m", "uvicorn", "items:app", "--port", str(port)],
            cwd=workdir,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": "", **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{base}/hello").status_code == 200,
            timeout=30,
            what="the README example under uvicorn",
            log=log,
            process=process,
        )
        yield base
    finally:
        _stop(process)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_example_against_keycloak(
    fastapi_venv: Virtualenv, keycloak: KeycloakServer, tmp_path: Path
) -> None:
    env = {"OIDC_ISSUER_URI": keycloak.issuer(), "OIDC_AUDIENCE": "todo-api"}
    with serve_example(fastapi_venv, tmp_path, env) as base:
        realm = Realm.of(keycloak)
        token = realm.password_token(realm.admin_user).access_token
        me = httpx.get(f"{base}/me", headers=_bearer(token))
        assert me.status_code == 200, me.text
        assert me.json()["client"] == "todo-test"
        assert httpx.get(f"{base}/admin", headers=_bearer(token)).status_code == 200
        assert httpx.get(f"{base}/hello", headers=_bearer(token)).text.startswith('"hello ')
        # Keycloak grants no todo:read scope to this client: a clean 403, not a 500.
        items = httpx.get(f"{base}/items", headers=_bearer(token))
        assert items.status_code == 403
        assert 'error="insufficient_scope"' in items.headers["www-authenticate"]
        assert httpx.get(f"{base}/me").status_code == 401


def test_the_example_against_node_oidc_provider_with_dpop_nonces(
    fastapi_venv: Virtualenv, oidc_provider: AuthorizationServer, tmp_path: Path
) -> None:
    assert oidc_provider.dpop_client is not None
    env = {
        "OIDC_ISSUER_URI": oidc_provider.issuer,
        "OIDC_AUDIENCE": RESOURCE,
        "OIDC_PROVIDER": "generic",
        "OIDC_DPOP_NONCE": "true",
    }
    with serve_example(fastapi_venv, tmp_path, env) as base:
        token = oauth_client(
            oidc_provider, oidc_provider.dpop_client, dpop=True
        ).client_credentials(scope="todo:read todo:write", resource=RESOURCE)
        assert token.dpop_key.as_nonce  # the token endpoint's nonce was followed
        # requests-oauth2client follows the API's use_dpop_nonce by itself.
        items = requests.get(f"{base}/items", auth=token, timeout=10)
        assert items.status_code == 200, items.text
        assert token.dpop_key.rs_nonce  # ...because the API asked for one
        added = requests.post(f"{base}/items", auth=token, timeout=10)
        assert added.status_code == 201
        assert requests.get(f"{base}/admin", auth=token, timeout=10).status_code == 403


def test_the_example_against_ory_hydra(
    fastapi_venv: Virtualenv, hydra: AuthorizationServer, tmp_path: Path
) -> None:
    env = {"OIDC_ISSUER_URI": hydra.issuer, "OIDC_AUDIENCE": RESOURCE, "OIDC_PROVIDER": "generic"}
    with serve_example(fastapi_venv, tmp_path, env) as base:
        token = oauth_client(hydra, hydra.bearer_client).client_credentials(
            scope="todo:read", audience=RESOURCE
        )
        headers = _bearer(token.access_token)
        assert httpx.get(f"{base}/items", headers=headers).status_code == 200
        assert httpx.get(f"{base}/me", headers=headers).json()["scopes"] == ["todo:read"]
        refused = httpx.post(f"{base}/items", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"] == "insufficient_scope"  # install(): problem+json
