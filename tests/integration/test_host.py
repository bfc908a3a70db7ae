"""A forged ``Host`` against the real server (RFC 9112 §3.2, RFC 3986 §3.2, RFC 9449 §4.3
step 9), under both HTTP parsers uvicorn offers and with and without ``OIDC_PUBLIC_URL``:
an unused DPoP proof made to delete one todo must not delete another."""

from __future__ import annotations

import base64  # feature: live
import os  # feature: live
import socket  # feature: live
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from auth.testing import DpopKey, TestIssuer
from tests.integration.conftest import api_env
from tests.services import ApiProcess, api_process

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://todo.example"


@dataclass
class Deployment:
    api: ApiProcess
    issuer: TestIssuer
    #: The base URL clients sign proofs for.
    base: str

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.api.port}"


@pytest.fixture(
    scope="module",
    params=[
        ("httptools", None),
        ("h11", None),
        ("httptools", PUBLIC_URL),
        ("h11", PUBLIC_URL),
    ],
    ids=["httptools", "h11", "httptools-public-url", "h11-public-url"],
)
def deployment(
    request: pytest.FixtureRequest, issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    parser, public_url = request.param
    env = api_env(
        issuer, API_HTTP=parser, **({"OIDC_PUBLIC_URL": public_url} if public_url else {})
    )
    workdir: Path = tmp_path_factory.mktemp(f"api-{parser}")
    with api_process(env, workdir=workdir) as api:
        yield Deployment(api, issuer, public_url or api.base_url)


def _todo_ids(deployment: Deployment, subject: str) -> set[str]:
    token = deployment.issuer.token(subject)
    response = httpx.get(
        f"{deployment.api.base_url}/api/todos", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def test_a_delete_proof_for_todo_a_does_not_delete_todo_b_through_a_forged_host(
    deployment: Deployment,
) -> None:
    subject = f"host-{deployment.api.port}"
    bearer = {"Authorization": f"Bearer {deployment.issuer.token(subject)}"}
    todo_a, todo_b = (
        httpx.post(
            f"{deployment.api.base_url}/api/todos", json={"text": text}, headers=bearer
        ).json()["id"]
        for text in ("a", "b")
    )
    key = DpopKey()
    token = deployment.issuer.token(subject, dpop_key=key)
    proof_for_a = key.proof("DELETE", f"{deployment.base}/api/todos/{todo_a}", access_token=token)
    for forged in (
        f"{deployment.host}/api/todos/{todo_a}?",
        f"{deployment.host}/api/todos/{todo_a}#",
    ):
        response = httpx.delete(
            f"{deployment.api.base_url}/api/todos/{todo_b}",
            headers={"Authorization": f"DPoP {token}", "DPoP": proof_for_a, "Host": forged},
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert _todo_ids(deployment, subject) == {todo_a, todo_b}
    # The same proof still works for the request it was made for.
    response = httpx.delete(
        f"{deployment.api.base_url}/api/todos/{todo_a}",
        headers={"Authorization": f"DPoP {token}", "DPoP": proof_for_a, "Host": deployment.host},
    )
    assert response.status_code == 204, response.text
    assert _todo_ids(deployment, subject) == {todo_b}


@pytest.mark.parametrize(
    "host", ["127.0.0.1/api/todos?", "user@127.0.0.1", "", "127.0.0.1:1:2", "127.0.0.1 x"]
)
def test_an_invalid_host_is_400_before_authentication(deployment: Deployment, host: str) -> None:
    response = httpx.get(f"{deployment.api.base_url}/api/me", headers={"Host": host})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "www-authenticate" not in response.headers


# feature: live begin
def test_a_websocket_upgrade_with_an_invalid_host_is_refused_with_400(
    deployment: Deployment,
) -> None:
    token = deployment.issuer.token("host-ws")
    with socket.create_connection(("127.0.0.1", deployment.api.port), timeout=5) as raw:
        key = base64.b64encode(os.urandom(16)).decode()
        raw.sendall(
            (
                f"GET /api/ws HTTP/1.1\r\nHost: {deployment.host}/api/todos?\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: todo.v1, authorization_bearer_{token}\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = raw.recv(1024)
            if not chunk:
                break
            head += chunk
    assert head.startswith(b"HTTP/1.1 400"), head[:200]


# feature: live end
