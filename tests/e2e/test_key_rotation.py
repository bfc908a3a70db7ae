"""Signing-key rotation done through Keycloak's admin API, with the API left running:
new tokens are accepted at once, old ones for as long as their key is published."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Api, Realm

KEY_PROVIDER = "org.keycloak.keys.KeyProvider"

# It needs the API the suite starts: one whose key cache expires within seconds.
pytestmark = [pytest.mark.e2e, pytest.mark.own_servers, pytest.mark.usefixtures("own_keycloak")]


def _kid(token: str) -> str:
    import base64
    import json

    header = token.split(".", maxsplit=1)[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


def _status(api: Api, token: str) -> int:
    return httpx.get(
        f"{api.base_url}/api/me", headers={"Authorization": f"Bearer {token}"}
    ).status_code


def _published_kids(realm: Realm) -> set[str]:
    jwks = httpx.get(f"{realm.issuer}/protocol/openid-connect/certs").json()
    return {key["kid"] for key in jwks["keys"]}


def _eventually_status(api: Api, token: str, expected: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while _status(api, token) != expected:
        assert time.monotonic() < deadline, f"expected {expected} within {timeout}s"
        time.sleep(0.3)


def _rsa_provider_of(admin: httpx.Client, kid: str) -> dict[str, Any]:
    keys = admin.get("/todo/keys").json()["keys"]
    provider_id = next(key["providerId"] for key in keys if key["kid"] == kid)
    component: dict[str, Any] = admin.get(f"/todo/components/{provider_id}").json()
    return component


def test_rotation_through_the_admin_api(realm: Realm, api: Api) -> None:
    old_token = realm.password_token(realm.user).access_token
    old_kid = _kid(old_token)
    assert _status(api, old_token) == 200

    with realm.admin() as admin:
        realm_id = admin.get("/todo").json()["id"]
        old_provider = _rsa_provider_of(admin, old_kid)
        priority = int(old_provider["config"]["priority"][0]) + 100
        created = admin.post(
            "/todo/components",
            json={
                "name": "rotated-rsa",
                "providerId": "rsa-generated",
                "providerType": KEY_PROVIDER,
                "parentId": realm_id,
                "config": {
                    "priority": [str(priority)],
                    "enabled": ["true"],
                    "active": ["true"],
                    "keySize": ["2048"],
                    "algorithm": ["RS256"],
                },
            },
        )
        assert created.status_code == 201, created.text

        # 1. A new key with a higher priority signs new tokens: accepted without a restart.
        new_token = realm.password_token(realm.user).access_token
        assert _kid(new_token) != old_kid
        assert _status(api, new_token) == 200
        assert _status(api, old_token) == 200

        # 2. The old key made passive: Keycloak still publishes it for verification.
        old_provider["config"]["active"] = ["false"]
        assert (
            admin.put(f"/todo/components/{old_provider['id']}", json=old_provider).status_code
            == 204
        )
        assert old_kid in _published_kids(realm)
        assert _status(api, old_token) == 200

        # 3. The old key disabled: no longer published, so tokens it signed are refused
        #    once the API's JWKS cache refreshes (OIDC_JWKS_MAX_TTL_SECONDS=2 here).
        old_provider["config"]["enabled"] = ["false"]
        assert (
            admin.put(f"/todo/components/{old_provider['id']}", json=old_provider).status_code
            == 204
        )
        assert old_kid not in _published_kids(realm)
        _eventually_status(api, old_token, 401)
        assert _status(api, new_token) == 200
        assert _status(api, realm.password_token(realm.other_user).access_token) == 200
