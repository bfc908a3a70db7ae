"""Keycloak's tokens against the API: Bearer, DPoP, and the tokens that must be refused."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
import requests

from auth._dpop import access_token_hash
from auth._jws import b64url_decode
from tests.e2e.conftest import Api, Realm

pytestmark = pytest.mark.e2e


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_password_grant_token_from_keycloak_is_accepted_for_crud(realm: Realm, api: Api) -> None:
    token = realm.password_token(realm.user).access_token
    with httpx.Client(base_url=api.base_url, headers=_bearer(token)) as client:
        me = client.get("/api/me").json()
        assert me["username"] == realm.user.name
        assert me["issuer"] == realm.issuer
        assert "todo-user" in me["roles"]
        expected_groups = realm.targets.user_groups
        assert me["groups"] in (expected_groups, [f"/{group}" for group in expected_groups])
        created = client.post("/api/todos", json={"text": "from keycloak"})
        assert created.status_code == 201
        path = created.headers["location"]
        assert (
            client.patch(
                path, json={"text": "changed"}, headers={"If-Match": created.headers["etag"]}
            ).status_code
            == 200
        )
        assert client.get(path).json()["text"] == "changed"
        assert client.delete(path).status_code == 204
        assert client.get(path).status_code == 404


def test_a_client_credentials_token_is_accepted(realm: Realm, api: Api) -> None:
    token = realm.bearer_client().client_credentials().access_token
    me = httpx.get(f"{api.base_url}/api/me", headers=_bearer(token)).json()
    assert me["client_id"] == realm.targets.client_id


def test_the_admin_reaches_the_admin_view_and_a_user_gets_403(realm: Realm, api: Api) -> None:
    admin = httpx.get(
        f"{api.base_url}/api/admin/stats",
        headers=_bearer(realm.password_token(realm.admin_user).access_token),
    )
    assert admin.status_code == 200
    assert admin.json()["users"] >= 1
    assert set(admin.json()) == {"users", "todos", "todos_done"}  # feature: todo
    user = httpx.get(
        f"{api.base_url}/api/admin/stats",
        headers=_bearer(realm.password_token(realm.user).access_token),
    )
    assert user.status_code == 403
    assert user.json()["error"] == "insufficient_scope"


def test_a_dpop_bound_token_is_accepted_with_a_proof(realm: Realm, api: Api) -> None:
    token = realm.dpop_token(realm.other_user)
    assert token.token_type == "DPoP"
    # requests-oauth2client signs a fresh proof for each request it sends.
    response = requests.get(f"{api.base_url}/api/me", auth=token, timeout=10)
    assert response.status_code == 200
    assert response.json()["dpop_bound"] is True
    created = requests.post(
        f"{api.base_url}/api/todos", json={"text": "bound"}, auth=token, timeout=10
    )
    assert created.status_code == 201


def test_a_dpop_bound_token_is_refused_as_bearer(realm: Realm, api: Api) -> None:
    token = realm.dpop_token(realm.other_user)
    response = httpx.get(f"{api.base_url}/api/me", headers=_bearer(token.access_token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_a_replayed_proof_is_refused(realm: Realm, api: Api) -> None:
    token = realm.dpop_token(realm.other_user)
    first = requests.get(f"{api.base_url}/api/me", auth=token, timeout=10)
    assert first.status_code == 200
    captured: dict[str, str] = {}
    for name in ("Authorization", "DPoP"):
        value = first.request.headers[name]
        assert isinstance(value, str)
        captured[name] = value
    replayed = httpx.get(f"{api.base_url}/api/me", headers=captured)
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_dpop_proof"


def test_a_proof_for_another_url_is_refused(realm: Realm, api: Api) -> None:
    token = realm.dpop_token(realm.other_user)
    proof = token.dpop_key.proof(
        htm="GET", htu=f"{api.base_url}/api/todos", ath=access_token_hash(token.access_token)
    )
    response = httpx.get(
        f"{api.base_url}/api/me",
        headers={"Authorization": f"DPoP {token.access_token}", "DPoP": str(proof)},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_dpop_proof"


def _create_client(realm: Realm, representation: dict[str, object]) -> None:
    with realm.admin() as admin:
        response = admin.post(f"/{realm.name}/clients", json=representation)
        assert response.status_code in (201, 409), response.text


@pytest.mark.keycloak_admin
def test_a_token_for_another_audience_is_refused(realm: Realm, api: Api) -> None:
    client_id = f"elsewhere-{uuid.uuid4().hex[:6]}"
    _create_client(
        realm,
        {
            "clientId": client_id,
            "secret": "elsewhere-secret",
            "publicClient": False,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
            "attributes": {"access.token.header.type.rfc9068": "true"},
        },
    )
    token = realm.client(client_id, "elsewhere-secret").client_credentials().access_token
    # A valid Keycloak token of the realm in every respect but its audience.
    claims = json.loads(b64url_decode(token.split(".")[1]))
    assert claims["iss"] == realm.issuer
    audience = claims.get("aud", [])
    assert realm.targets.audience not in ([audience] if isinstance(audience, str) else audience)
    response = httpx.get(f"{api.base_url}/api/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


@pytest.mark.keycloak_admin
def test_an_expired_token_is_refused(realm: Realm, api: Api, api_leeway_seconds: int) -> None:
    client_id = f"short-lived-{uuid.uuid4().hex[:6]}"
    _create_client(
        realm,
        {
            "clientId": client_id,
            "secret": "short-secret",
            "publicClient": False,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
            "attributes": {
                "access.token.header.type.rfc9068": "true",
                "access.token.lifespan": "2",
            },
            "protocolMappers": [
                {
                    "name": "audience",
                    "protocol": "openid-connect",
                    "protocolMapper": "oidc-audience-mapper",
                    "config": {
                        "included.client.audience": realm.targets.audience,
                        "access.token.claim": "true",
                    },
                }
            ],
        },
    )
    token = realm.client(client_id, "short-secret").client_credentials().access_token
    assert httpx.get(f"{api.base_url}/api/me", headers=_bearer(token)).status_code == 200
    time.sleep(2 + api_leeway_seconds + 1)  # past the lifespan and the API's leeway
    response = httpx.get(f"{api.base_url}/api/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_a_token_from_another_realm_is_refused(realm: Realm, api: Api) -> None:
    token = realm.foreign_client().client_credentials().access_token
    response = httpx.get(f"{api.base_url}/api/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
