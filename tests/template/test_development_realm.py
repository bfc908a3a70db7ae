"""The bundled Keycloak's development realm of a generated service, imported into a real
Keycloak: its clients issue tokens the service accepts as its ``.env`` configures it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.services import KeycloakServer
from tests.template.generation import copier_copy, serve

pytestmark = [pytest.mark.template, pytest.mark.e2e, pytest.mark.own_servers]

REALM = "acme"


@pytest.fixture
def service(template_repository: Path, tmp_path: Path) -> Path:
    root = tmp_path / "acme-orders"
    copier_copy(
        template_repository,
        root,
        {"project_name": "Acme Orders", "keycloak_realm": REALM, "frontend_mock": False},
    )
    return root


@pytest.fixture
def imported(keycloak: KeycloakServer, service: Path) -> Iterator[str]:
    """The service's realm file imported as it is; removed afterwards."""
    realm = json.loads((service / "keycloak" / f"{REALM}-realm.json").read_text())
    with keycloak.admin() as admin:
        created = admin.post("", json=realm)
        assert created.status_code == 201, created.text
        try:
            yield keycloak.issuer(REALM)
        finally:
            admin.delete(f"/{REALM}")


def _password_token(issuer: str, user: str) -> str:
    response = httpx.post(
        f"{issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": f"{REALM}-test",
            "client_secret": f"{REALM}-test-secret",
            "username": user,
            "password": f"{user}-password",
            "scope": "openid",
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_the_development_realms_tokens_are_accepted_by_the_service(
    service: Path, imported: str
) -> None:
    # The .env names the bundled Keycloak's usual port; this one listens elsewhere.
    with serve(service, Path(sys.executable), OIDC_ISSUER_URI=imported) as api:
        carol = {"Authorization": f"Bearer {_password_token(imported, 'carol')}"}
        me = httpx.get(f"{api}/api/me", headers=carol).json()
        assert me["client_id"] == f"{REALM}-test"
        assert {f"{REALM}-user", f"{REALM}-admin"} <= set(me["roles"])
        created = httpx.post(f"{api}/api/todos", json={"text": "from acme"}, headers=carol)
        assert created.status_code == 201, created.text
        # TODO_ADMIN_ROLE in the .env is the realm's admin role: carol has it, alice not.
        assert httpx.get(f"{api}/api/admin/stats", headers=carol).status_code == 200
        alice = {"Authorization": f"Bearer {_password_token(imported, 'alice')}"}
        assert httpx.get(f"{api}/api/admin/stats", headers=alice).status_code == 403
