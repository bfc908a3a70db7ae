"""One API trusting two real authorization servers at once (OIDC_ISSUERS): tokens from
node-oidc-provider and from Ory Hydra both accepted, each issuer with its own keys, and
ready (both issuers' keys loaded here; one issuer's keys would do)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.authorization_servers import RESOURCE, AuthorizationServer
from tests.servers.conftest import oauth_client
from tests.services import ApiProcess, api_process

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def api(
    oidc_provider: AuthorizationServer,
    hydra: AuthorizationServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiProcess]:
    issuers = [
        {"issuer": oidc_provider.issuer, "audience": RESOURCE, "provider": "generic"},
        {"issuer": hydra.issuer, "audience": RESOURCE, "provider": "generic"},
    ]
    workdir: Path = tmp_path_factory.mktemp("two-issuers-api")
    env = {"OIDC_ISSUERS": json.dumps(issuers), "APP_ENV": "production"}
    with api_process(env, workdir=workdir) as process:
        yield process


def test_tokens_of_both_issuers_are_accepted_each_with_its_own_keys(
    api: ApiProcess, oidc_provider: AuthorizationServer, hydra: AuthorizationServer
) -> None:
    first = oauth_client(oidc_provider, oidc_provider.bearer_client).client_credentials(
        scope="todo:read", resource=RESOURCE
    )
    second = oauth_client(hydra, hydra.bearer_client).client_credentials(
        scope="todo:read", audience=RESOURCE
    )
    for token, server in ((first, oidc_provider), (second, hydra)):
        me = httpx.get(
            f"{api.base_url}/api/me", headers={"Authorization": f"Bearer {token.access_token}"}
        )
        assert me.status_code == 200, me.text
        assert me.json()["issuer"] == server.issuer
    # Ready only once every trusted issuer's keys are loaded. The per-issuer detail is
    # for the admin role (/api/admin/readiness), which these clients' tokens do not carry.
    assert httpx.get(f"{api.base_url}/readyz").json()["checks"]["auth"] == "ok"
