"""The end-to-end tier: a real Keycloak (keycloak/local-keycloak.sh, the realms in
keycloak/*.json), the real API under uvicorn trusting it, and tokens obtained from
Keycloak by a real OAuth client library (requests-oauth2client), DPoP included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from requests_oauth2client import BearerToken, DPoPToken, OAuth2Client

from tests.services import ApiProcess, KeycloakServer, api_process

AUDIENCE = "todo-api"
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "carol": "carol-password"}


@dataclass
class Realm:
    """Token sources of a Keycloak realm, as a client application would use them."""

    keycloak: KeycloakServer
    name: str = "todo"

    def client(self, client_id: str, secret: str, *, dpop: bool = False) -> OAuth2Client:
        return OAuth2Client(
            token_endpoint=self.keycloak.token_endpoint(self.name),
            client_id=client_id,
            client_secret=secret,
            dpop_bound_access_tokens=dpop,
            testing=True,  # Keycloak listens on plain http on loopback in the tests
        )

    def password_token(self, user: str) -> BearerToken:
        token: BearerToken = self.client("todo-test", "todo-test-secret").resource_owner_password(
            username=user, password=PASSWORDS[user]
        )
        return token

    def dpop_token(self, user: str) -> DPoPToken:
        client = self.client("todo-test-dpop", "todo-test-dpop-secret", dpop=True)
        token: DPoPToken = client.resource_owner_password(username=user, password=PASSWORDS[user])
        return token


@pytest.fixture(scope="session")
def realm(keycloak: KeycloakServer) -> Realm:
    return Realm(keycloak)


@pytest.fixture(scope="session")
def api(keycloak: KeycloakServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """The API trusting the Keycloak realm. Short key-cache bounds so rotation and outage
    tests see the JWKS change within seconds; a one-second leeway for the expiry test."""
    workdir: Path = tmp_path_factory.mktemp("e2e-api")
    env = {
        "OIDC_ISSUER_URI": keycloak.issuer(),
        "OIDC_AUDIENCE": AUDIENCE,
        "OIDC_LEEWAY_SECONDS": "1",
        "OIDC_JWKS_MIN_TTL_SECONDS": "1",
        "OIDC_JWKS_MAX_TTL_SECONDS": "2",
        "OIDC_JWKS_REFETCH_COOLDOWN_SECONDS": "1",
        "APP_ENV": "production",
    }
    with api_process(env, workdir=workdir) as process:
        yield process
