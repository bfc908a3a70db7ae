"""Live updates over a WebSocket with Keycloak's tokens, Bearer and DPoP-bound."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import requests
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from auth._dpop import access_token_hash
from tests.e2e.conftest import Api, Realm
from tests.integration.conftest import receive_json

pytestmark = pytest.mark.e2e


def _ws_url(api: Api) -> str:
    return api.base_url.replace("http://", "ws://") + "/api/ws"


async def test_live_updates_with_a_keycloak_bearer_token(realm: Realm, api: Api) -> None:
    token = realm.password_token(realm.user).access_token
    async with connect(
        _ws_url(api),
        subprotocols=[Subprotocol("todo.v1"), Subprotocol(f"authorization_bearer_{token}")],
    ) as live:
        ready = await receive_json(live)
        assert ready["type"] == "ready"
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
            await client.post(f"{api.base_url}/api/todos", json={"text": "live from keycloak"})
        event = await receive_json(live)
    assert event["type"] == "todo.created"
    assert event["todo"]["text"] == "live from keycloak"
    assert event["seq"] == ready["seq"] + 1


async def test_live_updates_with_a_dpop_bound_keycloak_token(realm: Realm, api: Api) -> None:
    token = realm.dpop_token(realm.other_user)
    subprotocols = ["todo.v1", f"authorization_bearer_{token.access_token}"]
    async with connect(_ws_url(api), subprotocols=subprotocols) as live:  # type: ignore[arg-type]
        proof = token.dpop_key.proof(
            htm="GET", htu=f"{api.base_url}/api/ws", ath=access_token_hash(token.access_token)
        )
        await live.send(json.dumps({"type": "auth.dpop", "proof": str(proof)}))
        assert (await receive_json(live))["type"] == "ready"
        url, body = f"{api.base_url}/api/todos", {"text": "bound and live"}
        created = await asyncio.to_thread(requests.post, url, json=body, auth=token, timeout=10)
        assert created.status_code == 201
        event = await receive_json(live)
    assert event["todo"]["text"] == "bound and live"
