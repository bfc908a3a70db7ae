"""Ory Hydra's JWT access tokens against the API: header ``typ: JWT``, scopes in an
``scp`` list, the audience asked for with Hydra's ``audience`` parameter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.authorization_servers import RESOURCE, AuthorizationServer
from tests.servers.conftest import oauth_client
from tests.services import ApiProcess

pytestmark = pytest.mark.servers


def _token(hydra: AuthorizationServer, **params: Any) -> str:
    token = oauth_client(hydra, hydra.bearer_client).client_credentials(**params)
    access_token: str = token.access_token
    return access_token


def test_a_hydra_token_is_accepted_with_its_scp_scopes(
    hydra: AuthorizationServer, hydra_api: ApiProcess
) -> None:
    token = _token(hydra, scope="todo:read todo:write", audience=RESOURCE)
    me = httpx.get(f"{hydra_api.base_url}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["issuer"] == hydra.issuer
    assert body["client_id"] == "todo-service"
    assert body["scopes"] == ["todo:read", "todo:write"]
    created = httpx.post(
        f"{hydra_api.base_url}/api/todos",
        json={"text": "from hydra"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201


def test_a_hydra_token_without_this_apis_audience_is_refused(
    hydra: AuthorizationServer, hydra_api: ApiProcess
) -> None:
    token = _token(hydra, scope="todo:read")  # no audience asked for: aud is empty
    response = httpx.get(
        f"{hydra_api.base_url}/api/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
