"""The development realm of a service that chose the bundled Keycloak.

It is derived from the test realm (``keycloak/todo-realm.json``), so it has the same
clients, mappers, roles and users, named after the service: realm ``acme``, clients
``acme-api`` (the audience), ``acme-spa``, ``acme-swagger``, ``acme-test`` and
``acme-test-dpop``, roles ``acme-user`` and ``acme-admin``. ``make keycloak-start``
imports every ``keycloak/*-realm.json``, so it serves this realm beside the test realms,
which stay as they are: the test tiers log in to them by name.

Like the test realm, it is for development only: its users have known passwords and its
test clients known secrets. A production realm: docs/providers/keycloak.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from generator.naming import ProjectNames, RealmNames

TEST_REALM = Path("keycloak/todo-realm.json")
#: ``todo`` as a name or a name's part (``todo-api``, ``default-roles-todo``), and
#: ``TODO`` as a word of a description ("TODO API (resource server)").
_NAME = re.compile(r"(?<![A-Za-z0-9])todo(?![A-Za-z0-9_])")
_WORD = re.compile(r"(?<![A-Za-z0-9])TODO(?![A-Za-z0-9_])")


def development_realm_path(names: RealmNames) -> Path:
    return Path("keycloak") / f"{names.realm}-realm.json"


def _renamed(value: Any, realm: RealmNames, project: ProjectNames) -> Any:
    if isinstance(value, str):
        value = _NAME.sub(realm.realm, value)
        return _WORD.sub(project.title, value).replace("(test realm)", "(development realm)")
    if isinstance(value, list):
        return [_renamed(item, realm, project) for item in value]
    if isinstance(value, dict):
        return {key: _renamed(item, realm, project) for key, item in value.items()}
    return value


def derive_realm(test_realm: dict[str, Any], realm: RealmNames, project: ProjectNames) -> Any:
    """The test realm's export with every name of the test realm replaced by the
    development realm's (string values only: the keys are Keycloak's)."""
    return _renamed(test_realm, realm, project)


def write_development_realm(root: Path, realm: RealmNames, project: ProjectNames) -> Path:
    """Write ``keycloak/<realm>-realm.json`` under ``root``; its path."""
    test_realm = json.loads((root / TEST_REALM).read_text(encoding="utf-8"))
    path = root / development_realm_path(realm)
    derived = derive_realm(test_realm, realm, project)
    path.write_text(json.dumps(derived, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
