"""docs/providers/keycloak.md, executed: a realm built from empty by the checklist's admin
REST calls, the API started with the checklist's settings, and every kind of token the
checklist sets up accepted with its roles and scopes, DPoP-bound where it says so.

Users come from the realm's directory in production; here two are added once the realm
exists (``ada``, whom step 7 makes an administrator, and ``ben``). A client the
checklist does not give the API's scope stands for any other client of the realm.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import requests
from requests_oauth2client import DPoPToken, InvalidRequest, OAuth2Client

from tests.docs.checklists import api_settings, checklist_path
from tests.e2e.code_flow import log_in
from tests.e2e.keycloak_checklist import checklist_steps, run_step
from tests.services import ApiProcess, KeycloakServer, api_process, free_port, wait_until

# It builds a realm of its own from empty and starts its own API with the checklist's settings.
pytestmark = [pytest.mark.e2e, pytest.mark.own_servers, pytest.mark.usefixtures("own_keycloak")]

REALM = "acme"
#: The addresses the checklist is written for, and what stands for them here.
DOC_KEYCLOAK, DOC_API = "https://kc.example", "https://api.example"
SPA_REDIRECT = "https://app.example/"
DOCS_REDIRECT = f"{DOC_API}/docs/oauth2-redirect"
USERS = {"ada": "ada-password", "ben": "ben-password"}
#: A client of the realm for another API: the checklist does not give it the scope
#: ``todo-api``.
OTHER_CLIENT = {
    "clientId": "reports",
    "publicClient": False,
    "standardFlowEnabled": False,
    "serviceAccountsEnabled": True,
    "attributes": {"access.token.header.type.rfc9068": "true"},
}


def _admin(keycloak: KeycloakServer) -> httpx.Client:
    """The admin REST API at the server's root, as the checklist's paths are written."""
    return httpx.Client(
        base_url=keycloak.url,
        headers={"Authorization": f"Bearer {keycloak.admin_token()}"},
        timeout=30,
    )


def _add_directory_users(admin: httpx.Client) -> None:
    for username, password in USERS.items():
        user = {
            "username": username,
            "enabled": True,
            "email": f"{username}@example.test",
            "emailVerified": True,
            "firstName": username.title(),
            "lastName": "Example",
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        }
        admin.post(f"/admin/realms/{REALM}/users", json=user).raise_for_status()


@dataclass
class Realm:
    keycloak: KeycloakServer
    worker_secret: str
    other_secret: str

    @property
    def issuer(self) -> str:
        return self.keycloak.issuer(REALM)

    def client(self, client_id: str, secret: str | None = None) -> OAuth2Client:
        return OAuth2Client.from_discovery_endpoint(
            issuer=self.issuer, client_id=client_id, client_secret=secret, testing=True
        )


def _client_secret(admin: httpx.Client, client_id: str) -> str:
    base = f"/admin/realms/{REALM}/clients"
    [client] = admin.get(base, params={"clientId": client_id}).raise_for_status().json()
    secret: str = (
        admin.get(f"{base}/{client['id']}/client-secret").raise_for_status().json()["value"]
    )
    return secret


@pytest.fixture(scope="module")
def realm(keycloak: KeycloakServer) -> Iterator[Realm]:
    """Realm ``acme``, built by the checklist's steps in order."""
    steps = checklist_steps()
    assert [call.path for call in steps[0].calls] == ["/admin/realms"], "step 1 makes the realm"
    with _admin(keycloak) as admin:
        run_step(admin, steps[0])
        _add_directory_users(admin)
        for step in steps[1:]:
            run_step(admin, step)
        admin.post(f"/admin/realms/{REALM}/clients", json=OTHER_CLIENT).raise_for_status()
        built = Realm(
            keycloak, _client_secret(admin, "todo-worker"), _client_secret(admin, "reports")
        )
    try:
        yield built
    finally:
        with _admin(keycloak) as admin:
            admin.delete(f"/admin/realms/{REALM}")


@pytest.fixture(scope="module")
def api(realm: Realm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """The API with the checklist's settings, its addresses replaced by the test's."""
    port = free_port()
    here = {DOC_KEYCLOAK: realm.keycloak.url, DOC_API: f"http://127.0.0.1:{port}"}
    env = api_settings(checklist_path("keycloak"))
    for name in env:
        for written, actual in here.items():
            env[name] = env[name].replace(written, actual)
    assert env["OIDC_ISSUER_URI"] == realm.issuer
    workdir: Path = tmp_path_factory.mktemp("keycloak-checklist-api")
    with api_process(env, port=port, workdir=workdir) as process:
        yield process


def _me(api: ApiProcess, auth: requests.auth.AuthBase) -> dict[str, Any]:
    response = requests.get(f"{api.base_url}/api/me", auth=auth, timeout=10)
    assert response.status_code == 200, response.text
    me: dict[str, Any] = response.json()
    return me


def _admin_view(api: ApiProcess, auth: requests.auth.AuthBase) -> requests.Response:
    return requests.get(f"{api.base_url}/api/admin/stats", auth=auth, timeout=10)


def test_an_administrator_logs_in_through_the_spa_with_a_dpop_bound_token(
    realm: Realm, api: ApiProcess
) -> None:
    token = log_in(
        realm.client("todo-spa"),
        username="ada",
        password=USERS["ada"],
        redirect_uri=SPA_REDIRECT,
        dpop=True,
    )
    assert isinstance(token, DPoPToken)
    me = _me(api, token)
    assert me["username"] == "ada"
    assert me["issuer"] == realm.issuer
    assert me["client_id"] == "todo-spa"
    assert {"todo-user", "todo-admin"} <= set(me["roles"])
    assert "todo-api" in me["scopes"]
    assert me["dpop_bound"] is True
    assert _admin_view(api, token).status_code == 200


def test_the_spa_refuses_a_code_exchange_without_a_proof(realm: Realm) -> None:
    with pytest.raises(InvalidRequest):
        log_in(
            realm.client("todo-spa"),
            username="ben",
            password=USERS["ben"],
            redirect_uri=SPA_REDIRECT,
        )


def test_the_spa_refuses_an_authorization_request_without_pkce(realm: Realm) -> None:
    request = realm.client("todo-spa").authorization_request(redirect_uri=SPA_REDIRECT)
    endpoint, _, query = str(request.uri).partition("?")
    params = tuple(
        (name, value)
        for name, value in parse_qsl(query)
        if name not in ("code_challenge", "code_challenge_method")
    )
    answer = httpx.get(endpoint, params=params, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(SPA_REDIRECT)
    assert "error=invalid_request" in answer.headers["location"]


def test_a_user_logs_in_from_docs_with_a_bearer_token_and_is_no_administrator(
    realm: Realm, api: ApiProcess
) -> None:
    token = log_in(
        realm.client("todo-swagger"),
        username="ben",
        password=USERS["ben"],
        redirect_uri=DOCS_REDIRECT,
    )
    assert not isinstance(token, DPoPToken)
    me = _me(api, token)
    assert me["client_id"] == "todo-swagger"
    assert "todo-user" in me["roles"]
    assert "todo-admin" not in me["roles"]
    assert me["dpop_bound"] is False
    refused = _admin_view(api, token)
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"


def test_docs_offers_the_login_at_the_realm(realm: Realm, api: ApiProcess) -> None:
    def scheme() -> dict[str, Any] | None:
        schemes = httpx.get(f"{api.base_url}/openapi.json").json()["components"]
        found: dict[str, Any] | None = schemes["securitySchemes"].get("OIDC")
        return found

    wait_until(lambda: scheme() is not None, timeout=30, what="the OIDC scheme in /openapi.json")
    found = scheme()
    assert found is not None
    flow = found["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == f"{realm.issuer}/protocol/openid-connect/auth"
    assert flow["tokenUrl"] == f"{realm.issuer}/protocol/openid-connect/token"
    assert '"clientId": "todo-swagger"' in httpx.get(f"{api.base_url}/docs").text


def test_the_machine_client_gets_bearer_and_dpop_bound_tokens(
    realm: Realm, api: ApiProcess
) -> None:
    worker = realm.client("todo-worker", realm.worker_secret)
    bearer = worker.client_credentials()
    me = _me(api, bearer)
    assert me["client_id"] == "todo-worker"
    assert "todo-user" in me["roles"]
    assert me["dpop_bound"] is False
    assert _admin_view(api, bearer).status_code == 403
    bound = worker.client_credentials(dpop=True)
    assert isinstance(bound, DPoPToken)
    assert _me(api, bound)["dpop_bound"] is True


def test_a_token_of_another_client_of_the_realm_is_refused_for_its_audience(
    realm: Realm, api: ApiProcess
) -> None:
    token = realm.client("reports", realm.other_secret).client_credentials()
    refused = requests.get(f"{api.base_url}/api/me", auth=token, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    request_id = refused.headers["x-request-id"]

    def access_line() -> dict[str, Any] | None:
        for line in api.output().splitlines():
            if request_id in line and line.startswith("{"):
                record: dict[str, Any] = json.loads(line)
                if record.get("request_id") == request_id and record.get("event") == "request":
                    return record
        return None

    wait_until(lambda: access_line() is not None, timeout=10, what="the refusal's access line")
    line = access_line()
    assert line is not None
    assert line["auth_check"] == "aud"
