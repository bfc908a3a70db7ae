"""Keycloak stopped while the API runs: known keys keep validating offline, readiness
reports the identity provider's state, and the API recovers when Keycloak returns."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Realm
from tests.services import ApiProcess

pytestmark = pytest.mark.e2e


def _auth_report(api: ApiProcess, admin_token: str) -> dict[str, Any]:
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


def test_keycloak_outage_and_recovery(realm: Realm, api: ApiProcess) -> None:
    seen = realm.password_token("alice").access_token
    unseen = realm.password_token("bob").access_token  # never shown to the API before the outage
    admin = realm.password_token("carol").access_token  # carol holds todo-admin
    me = f"{api.base_url}/api/me"
    assert httpx.get(me, headers={"Authorization": f"Bearer {seen}"}).status_code == 200

    realm.keycloak.stop()
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
        realm.keycloak.start()

    admin = realm.password_token("carol").access_token  # signed by the restarted Keycloak
    _wait_for(lambda: _auth_report(api, admin)["issuer_reachable"] is True)
    # A restarted dev-mode Keycloak has new signing keys: its tokens are accepted too.
    fresh = realm.password_token("alice").access_token
    assert httpx.get(me, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
