"""The development realm: the test realm's clients, mappers, roles and users, renamed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from generator.naming import ProjectNames, RealmNames
from generator.realm import TEST_REALM, write_development_realm

PROJECT = ProjectNames("Acme Orders", "acme-orders")
REALM = RealmNames("acme")


def _derived(repository_copy: Path) -> dict[str, Any]:
    path = write_development_realm(repository_copy, REALM, PROJECT)
    assert path == repository_copy / "keycloak" / "acme-realm.json"
    realm: dict[str, Any] = json.loads(path.read_text())
    return realm


def test_the_realm_and_its_clients_are_named_after_the_service(repository_copy: Path) -> None:
    realm = _derived(repository_copy)
    assert realm["realm"] == "acme"
    assert realm["displayName"] == "Acme Orders API (development realm)"
    assert {client["clientId"] for client in realm["clients"]} == {
        "acme-api",
        "acme-spa",
        "acme-swagger",
        "acme-test",
        "acme-test-dpop",
    }
    assert {role["name"] for role in realm["roles"]["realm"]} == {
        "acme-user",
        "acme-admin",
        "default-roles-acme",
    }
    assert realm["defaultRole"]["name"] == "default-roles-acme"


def test_every_token_the_realm_issues_names_the_services_api(repository_copy: Path) -> None:
    realm = _derived(repository_copy)
    audiences = {
        mapper["config"]["included.custom.audience"]
        for client in realm["clients"]
        for mapper in client.get("protocolMappers", [])
        if mapper["protocolMapper"] == "oidc-audience-mapper"
    }
    assert audiences == {"acme-api"}
    assert {user["username"] for user in realm["users"]} >= {"alice", "bob", "carol"}


def test_nothing_of_the_test_realm_is_left_and_its_shape_is_kept(repository_copy: Path) -> None:
    test_realm = json.loads((repository_copy / TEST_REALM).read_text())
    derived = _derived(repository_copy)
    assert "todo" not in json.dumps(derived).lower()

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        if isinstance(value, list):
            return [shape(item) for item in value]
        return type(value).__name__

    assert shape(derived) == shape(test_realm)
    # The test realm is untouched: the test tiers log in to it by name.
    assert json.loads((repository_copy / TEST_REALM).read_text()) == test_realm
