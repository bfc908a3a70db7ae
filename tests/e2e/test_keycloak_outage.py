"""Keycloak stopped while the API runs: known keys keep validating offline, readiness
reports the identity provider's state, and the API recovers when Keycloak returns."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Api, Realm
from tests.services import KeycloakServer

pytestmark = [pytest.mark.e2e, pytest.mark.own_servers]


def _auth_report(api: Api, admin_token: str) -> dict[str, Any]:
    """The identity provider's detail, which only the admin role may read."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    readiness = httpx.get(f"{api.base_url}/api/admin/readiness", headers=headers).json()
    report: dict[str, Any] = readiness["checks"]["auth"]
    return report


def _wait_for(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.3)


def test_keycloak_outage_and_recovery(own_keycloak: KeycloakServer, realm: Realm, api: Api) -> None:
    seen = realm.password_token(realm.user).access_token
    # Never shown to the API before the outage.
    unseen = realm.password_token(realm.other_user).access_token
    admin = realm.password_token(realm.admin_user).access_token  # it holds todo-admin
    me = f"{api.base_url}/api/me"
    assert httpx.get(me, headers={"Authorization": f"Bearer {seen}"}).status_code == 200

    own_keycloak.stop()
    try:
        _wait_for(lambda: _auth_report(api, admin)["issuer_reachable"] is False)
        report = _auth_report(api, admin)
        assert report["keys_loaded"] is True
        assert report["last_error"]
        # Offline validation with the keys already known, for a token never seen before too.
        assert httpx.get(me, headers={"Authorization": f"Bearer {seen}"}).status_code == 200
        assert httpx.get(me, headers={"Authorization": f"Bearer {unseen}"}).status_code == 200
        assert httpx.get(f"{api.base_url}/readyz").status_code == 200
    finally:
        own_keycloak.start()

    admin = realm.password_token(realm.admin_user).access_token  # signed by the restarted Keycloak
    _wait_for(lambda: _auth_report(api, admin)["issuer_reachable"] is True)
    # A restarted dev-mode Keycloak has new signing keys: its tokens are accepted too.
    fresh = realm.password_token(realm.user).access_token
    assert httpx.get(me, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
