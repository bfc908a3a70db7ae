"""The real server: ``python -m app`` under uvicorn on a loopback port, a test issuer over
real HTTP, and clients speaking real HTTP and WebSocket to them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from auth.testing import TestIssuer
from tests.services import ApiProcess, api_process, issuer_server


@pytest.fixture(scope="module")
def issuer() -> Iterator[TestIssuer]:
    with issuer_server() as served:
        yield served


def api_env(issuer: TestIssuer, **overrides: str) -> dict[str, str]:
    return {
        "OIDC_ISSUER_URI": issuer.issuer,
        "OIDC_AUDIENCE": issuer.audience,
        "WS_PING_INTERVAL_SECONDS": "1",
        "WS_PING_TIMEOUT_SECONDS": "1",
        "LIVE_PROOF_TIMEOUT_SECONDS": "2",
        **overrides,
    }


@dataclass
class Server:
    """A running API process and the issuer it trusts."""

    api: ApiProcess
    issuer: TestIssuer

    @property
    def url(self) -> str:
        return self.api.base_url

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/ws"

    def bearer(self, subject: str = "alice", **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(subject, **claims)}"}

    def create(self, subject: str, text: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/api/todos", json={"text": text}, headers=self.bearer(subject)
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def socket(self, token: str, **kwargs: Any) -> connect:
        return connect(
            self.ws_url, subprotocols=["todo.v1", f"authorization_bearer_{token}"], **kwargs
        )  # type: ignore[list-item]


@pytest.fixture(scope="module")
def server(issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("api")
    with api_process(api_env(issuer), workdir=workdir) as api:
        yield Server(api, issuer)


async def receive_json(socket: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    import asyncio

    message = await asyncio.wait_for(socket.recv(), timeout)
    value: dict[str, Any] = json.loads(message)
    return value
