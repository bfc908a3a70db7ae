"""Session-wide servers shared by the tiers that need them (started on first use)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.authorization_servers import AuthorizationServer, hydra_server, oidc_provider_server
from tests.services import (
    KeycloakServer,
    PostgresServer,
    RedisServer,
    keycloak_server,
    postgres_server,
    redis_server,
)

#: The testing kit, as users get it from the wheel's entry point (``oidc_issuer``,
#: ``oidc_token``, ``oidc_client_as``...): tests/auth/test_pytest_plugin.py.
pytest_plugins = ["auth.pytest_plugin"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (marker ``pg``)."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    """A real Redis server for the session (marker ``redis``)."""
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def keycloak() -> Iterator[KeycloakServer]:
    """A real Keycloak with the realms of keycloak/*.json (markers ``e2e``, ``browser``)."""
    with keycloak_server() as server:
        yield server


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[AuthorizationServer]:
    """node-oidc-provider: JWT access tokens via resource indicators, DPoP with nonces."""
    with oidc_provider_server() as server:
        yield server


@pytest.fixture(scope="session")
def hydra() -> Iterator[AuthorizationServer]:
    """Ory Hydra with the JWT access-token strategy (``typ: JWT``, ``scp``)."""
    with hydra_server() as server:
        yield server


@pytest.fixture
def parser_as_deep_as_python_313() -> Iterator[None]:
    """``json.loads`` as Python 3.13 has it: 5,000 nested arrays parse. On 3.11 the C
    parser stops at the interpreter's recursion limit (1,000), which is raised here: a
    depth bound that only held because of that limit fails under this fixture."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, 20_000))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)
