"""The end-to-end tier: tokens obtained from Keycloak by a real OAuth client library
(requests-oauth2client), DPoP included, sent to the real API.

By default the suite starts both itself: Keycloak (keycloak/local-keycloak.sh, the realms
in keycloak/*.json) and the API under uvicorn trusting it. With ``E2E_API_URL`` and
``E2E_ISSUER`` set (tests/e2e/targets.py) it runs against that deployment and starts
nothing; the tests that must stop or reconfigure the servers (marker ``own_servers``)
then fail saying so, and are deselected with ``-m "e2e and not own_servers"``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest
from requests_oauth2client import BearerToken, DPoPToken, OAuth2Client

from tests.e2e.targets import E2ETargets
from tests.services import KeycloakServer, api_process


class Api(Protocol):
    """The API under test: a process the suite started, or a deployment."""

    @property
    def base_url(self) -> str: ...


@dataclass(frozen=True)
class DeployedApi:
    base_url: str


@dataclass(frozen=True)
class User:
    name: str
    password: str


@dataclass(frozen=True)
class KeycloakAdmin:
    """Keycloak's admin REST API (``/admin/realms/...``) as its master-realm administrator."""

    url: str
    username: str
    password: str

    def client(self) -> httpx.Client:
        response = httpx.post(
            f"{self.url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": self.username,
                "password": self.password,
            },
        )
        response.raise_for_status()
        return httpx.Client(
            base_url=f"{self.url}/admin/realms",
            headers={"Authorization": f"Bearer {response.json()['access_token']}"},
        )


@functools.cache
def _token_endpoint(issuer: str) -> str:
    discovery = httpx.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=30)
    discovery.raise_for_status()
    endpoint: str = discovery.json()["token_endpoint"]
    return endpoint


_KEYCLOAK_ISSUER = re.compile(r"^(?P<url>https?://[^/]+(?:/[^/]+)*?)/realms/(?P<realm>[^/]+)/?$")


@dataclass
class Realm:
    """Token sources of the realm under test, as a client application would use them."""

    issuer: str
    targets: E2ETargets
    keycloak_admin: KeycloakAdmin | None = None

    @classmethod
    def of(cls, keycloak: KeycloakServer) -> Realm:
        """Realm ``todo`` of a Keycloak the suite started: keycloak/todo-realm.json's
        users and clients (the settings' defaults), local-keycloak.sh's administrator."""
        admin = KeycloakAdmin(keycloak.url, "admin", "admin")
        return cls(keycloak.issuer(), E2ETargets.model_construct(), admin)

    @property
    def name(self) -> str:
        """The Keycloak realm's name, the last segment of its issuer."""
        return self.issuer.rstrip("/").rsplit("/", 1)[-1]

    @property
    def user(self) -> User:
        return User(self.targets.user, self.targets.user_password.get_secret_value())

    @property
    def other_user(self) -> User:
        return User(self.targets.other_user, self.targets.other_user_password.get_secret_value())

    @property
    def admin_user(self) -> User:
        return User(self.targets.admin_user, self.targets.admin_user_password.get_secret_value())

    def client(
        self, client_id: str, secret: str, *, dpop: bool = False, issuer: str | None = None
    ) -> OAuth2Client:
        return OAuth2Client(
            token_endpoint=_token_endpoint(issuer or self.issuer),
            client_id=client_id,
            client_secret=secret,
            dpop_bound_access_tokens=dpop,
            testing=True,  # the suite's own Keycloak listens on plain http on loopback
        )

    def bearer_client(self) -> OAuth2Client:
        return self.client(self.targets.client_id, self.targets.client_secret.get_secret_value())

    def password_token(self, user: User) -> BearerToken:
        token: BearerToken = self.bearer_client().resource_owner_password(
            username=user.name, password=user.password
        )
        return token

    def dpop_token(self, user: User) -> DPoPToken:
        client = self.client(
            self.targets.dpop_client_id,
            self.targets.dpop_client_secret.get_secret_value(),
            dpop=True,
        )
        token = client.resource_owner_password(username=user.name, password=user.password)
        assert isinstance(token, DPoPToken)
        return token

    def foreign_client(self) -> OAuth2Client:
        """A client of another issuer, whose tokens the API must refuse."""
        issuer = self.targets.foreign_issuer
        if issuer is None:
            keycloak = _KEYCLOAK_ISSUER.match(self.issuer)
            if keycloak is None:
                pytest.fail(
                    f"{self.issuer} is not a Keycloak realm's issuer: set E2E_FOREIGN_ISSUER "
                    "to an issuer whose tokens the API must refuse",
                    pytrace=False,
                )
            issuer = f"{keycloak['url']}/realms/other"
        return self.client(
            self.targets.foreign_client_id,
            self.targets.foreign_client_secret.get_secret_value(),
            issuer=issuer,
        )

    def admin(self) -> httpx.Client:
        """Keycloak's admin API, for tests that create clients in the realm."""
        if self.keycloak_admin is None:
            pytest.fail(
                "this test creates clients through Keycloak's admin API: set "
                "E2E_KEYCLOAK_ADMIN and E2E_KEYCLOAK_ADMIN_PASSWORD, or deselect it with "
                "-m 'not keycloak_admin'",
                pytrace=False,
            )
        return self.keycloak_admin.client()


@pytest.fixture(scope="session")
def targets() -> E2ETargets:
    """The deployment's settings, or, when the suite starts its own servers, the defaults
    (keycloak/todo-realm.json's users and clients): no E2E_* value applies to those."""
    settings = E2ETargets()
    return settings if settings.deployed else E2ETargets.model_construct()


@pytest.fixture(scope="session")
def own_keycloak(request: pytest.FixtureRequest, targets: E2ETargets) -> KeycloakServer:
    """The Keycloak the suite started: only for tests that stop or reconfigure it."""
    if targets.deployed:
        pytest.fail(
            "this test stops or reconfigures the servers, so it runs only against the ones "
            "the suite starts: unset E2E_API_URL and E2E_ISSUER, or deselect it with "
            "-m 'e2e and not own_servers'",
            pytrace=False,
        )
    server: KeycloakServer = request.getfixturevalue("keycloak")
    return server


@pytest.fixture(scope="session")
def realm(request: pytest.FixtureRequest, targets: E2ETargets) -> Realm:
    if targets.deployed:
        assert targets.issuer is not None
        admin = None
        keycloak = _KEYCLOAK_ISSUER.match(targets.issuer)
        if keycloak and targets.keycloak_admin and targets.keycloak_admin_password:
            admin = KeycloakAdmin(
                keycloak["url"],
                targets.keycloak_admin,
                targets.keycloak_admin_password.get_secret_value(),
            )
        return Realm(targets.issuer, targets, admin)
    return Realm.of(request.getfixturevalue("keycloak"))


@pytest.fixture(scope="session")
def api(
    request: pytest.FixtureRequest, targets: E2ETargets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """The deployment's API, or the API the suite starts trusting its Keycloak realm, with
    short key-cache bounds so rotation and outage tests see the JWKS change within
    seconds, and a one-second leeway for the expiry test."""
    if targets.deployed:
        assert targets.api_url is not None
        yield DeployedApi(targets.api_url.rstrip("/"))
        return
    keycloak: KeycloakServer = request.getfixturevalue("keycloak")
    workdir: Path = tmp_path_factory.mktemp("e2e-api")
    env = {
        "OIDC_ISSUER_URI": keycloak.issuer(),
        "OIDC_AUDIENCE": targets.audience,
        "OIDC_LEEWAY_SECONDS": "1",
        "OIDC_JWKS_MIN_TTL_SECONDS": "1",
        "OIDC_JWKS_MAX_TTL_SECONDS": "2",
        "OIDC_JWKS_REFETCH_COOLDOWN_SECONDS": "1",
        "APP_ENV": "production",
    }
    with api_process(env, workdir=workdir) as process:
        yield process


@pytest.fixture(scope="session")
def api_leeway_seconds(targets: E2ETargets) -> int:
    """The API's clock leeway: 1 s for the API the suite starts, else the setting."""
    return targets.api_leeway_seconds if targets.deployed else 1
