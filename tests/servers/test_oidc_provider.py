"""node-oidc-provider's tokens against the API: RFC 9068 JWT access tokens obtained with a
resource indicator (RFC 8707), Bearer and DPoP-bound, with server nonces on both sides
(RFC 9449 §8 at the token endpoint, §9 at the API)."""

from __future__ import annotations

import httpx
import pytest
import requests
from requests_oauth2client import DPoPToken

from auth._dpop import access_token_hash
from tests.authorization_servers import RESOURCE, AuthorizationServer
from tests.servers.conftest import oauth_client
from tests.services import ApiProcess

pytestmark = pytest.mark.servers


def _dpop_token(server: AuthorizationServer, scope: str) -> DPoPToken:
    """A DPoP-bound token for the API's resource, the token endpoint's nonce followed."""
    assert server.dpop_client is not None
    token = oauth_client(server, server.dpop_client, dpop=True).client_credentials(
        scope=scope, resource=RESOURCE
    )
    assert isinstance(token, DPoPToken)
    return token


def test_a_bearer_token_for_the_resource_is_accepted(
    oidc_provider: AuthorizationServer, oidc_provider_api: ApiProcess
) -> None:
    token = oauth_client(oidc_provider, oidc_provider.bearer_client).client_credentials(
        scope="todo:read", resource=RESOURCE
    )
    me = httpx.get(
        f"{oidc_provider_api.base_url}/api/me",
        headers={"Authorization": f"Bearer {token.access_token}"},
    )
    assert me.status_code == 200, me.text
    assert me.json()["subject"] == "todo-service"
    assert me.json()["issuer"] == oidc_provider.issuer
    assert me.json()["scopes"] == ["todo:read"]
    assert me.json()["dpop_bound"] is False


def test_the_dpop_nonce_flow_runs_end_to_end(
    oidc_provider: AuthorizationServer, oidc_provider_api: ApiProcess
) -> None:
    token = _dpop_token(oidc_provider, "todo:read todo:write")
    # The token endpoint refused the first proof with use_dpop_nonce; the client retried
    # with the nonce it was given (RFC 9449 §8).
    assert token.token_type == "DPoP"
    assert token.dpop_key.as_nonce
    url = f"{oidc_provider_api.base_url}/api/me"
    headers = {"Authorization": f"DPoP {token.access_token}"}
    ath = access_token_hash(token.access_token)

    first = httpx.get(
        url, headers={**headers, "DPoP": str(token.dpop_key.proof("GET", url, ath=ath))}
    )
    assert first.status_code == 401
    assert first.json()["error"] == "use_dpop_nonce"
    assert 'error="use_dpop_nonce"' in first.headers["www-authenticate"]
    nonce = first.headers["dpop-nonce"]

    second = httpx.get(
        url,
        headers={**headers, "DPoP": str(token.dpop_key.proof("GET", url, ath=ath, nonce=nonce))},
    )
    assert second.status_code == 200, second.text
    assert second.json()["dpop_bound"] is True
    assert second.json()["scopes"] == ["todo:read", "todo:write"]


def test_a_real_dpop_client_follows_the_api_nonce_by_itself(
    oidc_provider: AuthorizationServer, oidc_provider_api: ApiProcess
) -> None:
    token = _dpop_token(oidc_provider, "todo:write")
    created = requests.post(
        f"{oidc_provider_api.base_url}/api/todos", json={"text": "nonce"}, auth=token, timeout=10
    )
    assert created.status_code == 201, created.text


def test_a_dpop_bound_token_sent_as_bearer_is_refused(
    oidc_provider: AuthorizationServer, oidc_provider_api: ApiProcess
) -> None:
    token = _dpop_token(oidc_provider, "todo:read")
    response = httpx.get(
        f"{oidc_provider_api.base_url}/api/me",
        headers={"Authorization": f"Bearer {token.access_token}"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
