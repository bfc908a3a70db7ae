"""The real server: ``python -m app`` under uvicorn on a loopback port, a test issuer over
real HTTP, and clients speaking real HTTP and WebSocket to them."""

from __future__ import annotations

import base64  # feature: live
import json  # feature: live
import os  # feature: live
import socket  # feature: live
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect  # feature: live
from websockets.typing import Subprotocol  # feature: live

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
        "WS_PING_INTERVAL_SECONDS": "1",  # feature: live
        "WS_PING_TIMEOUT_SECONDS": "1",  # feature: live
        "LIVE_PROOF_TIMEOUT_SECONDS": "2",  # feature: live
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

    # feature: live begin
    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/api/ws"

    # feature: live end

    def bearer(self, subject: str = "alice", **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(subject, **claims)}"}

    def create(self, subject: str, text: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/api/todos", json={"text": text}, headers=self.bearer(subject)
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    # feature: live begin
    def socket(self, token: str, **kwargs: Any) -> connect:
        protocols = [Subprotocol("todo.v1"), Subprotocol(f"authorization_bearer_{token}")]
        return connect(self.ws_url, subprotocols=protocols, **kwargs)

    # feature: live end


@pytest.fixture(scope="module")
def server(issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("api")
    with api_process(api_env(issuer), workdir=workdir) as api:
        yield Server(api, issuer)


# feature: live begin
async def receive_json(socket: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    import asyncio

    message = await asyncio.wait_for(socket.recv(), timeout)
    value: dict[str, Any] = json.loads(message)
    return value


def raw_upgrade(server: Server, token: str, *, receive_buffer: int | None = None) -> socket.socket:
    """A WebSocket client that completes the handshake and then does nothing: it never
    reads, never answers pings (and may send frames no library would)."""
    raw = socket.socket()
    if receive_buffer:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    raw.connect(("127.0.0.1", server.api.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1:{server.api.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: todo.v1, authorization_bearer_{token}\r\n\r\n"
    )
    raw.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += raw.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return raw


# feature: live end
