"""The `servers` tier: the real API trusting node-oidc-provider or Ory Hydra, and tokens
obtained from them by a real OAuth client library (requests-oauth2client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from requests_oauth2client import OAuth2Client

from tests.authorization_servers import RESOURCE, AuthorizationServer, ClientCredentials
from tests.services import ApiProcess, api_process


def oauth_client(
    server: AuthorizationServer, credentials: ClientCredentials, *, dpop: bool = False
) -> OAuth2Client:
    return OAuth2Client(
        token_endpoint=server.token_endpoint,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        dpop_bound_access_tokens=dpop,
        testing=True,  # the servers listen on plain http on loopback
    )


def _api(server: AuthorizationServer, workdir: Path, **env: str) -> Iterator[ApiProcess]:
    with api_process(
        {
            "OIDC_ISSUER_URI": server.issuer,
            "OIDC_AUDIENCE": RESOURCE,
            "APP_ENV": "production",
            **env,
        },
        workdir=workdir,
    ) as process:
        yield process


@pytest.fixture(scope="session")
def oidc_provider_api(
    oidc_provider: AuthorizationServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """The API trusting node-oidc-provider, with resource-server DPoP nonces on."""
    yield from _api(
        oidc_provider,
        tmp_path_factory.mktemp("oidc-provider-api"),
        OIDC_PROVIDER="generic",
        OIDC_DPOP_NONCE="true",
    )


@pytest.fixture(scope="session")
def hydra_api(
    hydra: AuthorizationServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """The API trusting Ory Hydra (header ``typ: JWT``, scopes in ``scp``)."""
    yield from _api(hydra, tmp_path_factory.mktemp("hydra-api"), OIDC_PROVIDER="generic")
