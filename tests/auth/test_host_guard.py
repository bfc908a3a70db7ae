"""The ASGI Host guard (auth.host_guard): RFC 9112 §3.2's 400 before any routing, for HTTP
requests and WebSocket upgrades, in any ASGI framework."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from auth._host_guard import HostGuard

Message = MutableMapping[str, Any]


class Recorder:
    """An ASGI application that records being called and answers 200."""

    def __init__(self) -> None:
        self.scopes: list[MutableMapping[str, Any]] = []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})


def _client(guard: HostGuard, peer: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=guard, client=(peer, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://api.example")


async def test_a_valid_host_reaches_the_application() -> None:
    app = Recorder()
    async with _client(HostGuard(app)) as client:
        response = await client.get("/todos", headers={"Host": "API.example:8080"})
    assert response.status_code == 200
    assert len(app.scopes) == 1


@pytest.mark.parametrize(
    "host", ["api.example/todos?", "user@api.example", "", "api.example:1:2", "api example"]
)
async def test_an_invalid_host_is_a_problem_400_and_never_reaches_the_application(
    host: str,
) -> None:
    app = Recorder()
    async with _client(HostGuard(app)) as client:
        response = await client.get("/todos", headers={"Host": host})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 400
    assert app.scopes == []


async def test_a_trusted_proxys_forwarded_host_is_checked_too() -> None:
    app = Recorder()
    guard = HostGuard(app, trusted_proxies=[ipaddress.ip_network("10.0.0.0/8")])
    headers = {"Host": "app:8000", "X-Forwarded-Host": "api.example/x?"}
    async with _client(guard, peer="10.0.0.2") as client:
        assert (await client.get("/todos", headers=headers)).status_code == 400
    async with _client(guard, peer="203.0.113.7") as client:  # not a proxy: ignored
        assert (await client.get("/todos", headers=headers)).status_code == 200


async def _call(guard: HostGuard, scope: dict[str, Any]) -> list[Message]:
    sent: list[Message] = []
    inbox = [{"type": "websocket.connect"}]

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await guard(scope, receive, send)
    return sent


def _scope(kind: str, host: bytes | None, **extra: Any) -> dict[str, Any]:
    headers = [] if host is None else [(b"host", host)]
    return {
        "type": kind,
        "scheme": "ws" if kind == "websocket" else "http",
        "http_version": "1.1",
        "path": "/api/ws",
        "headers": headers,
        "client": ("203.0.113.7", 4000),
        **extra,
    }


async def test_a_websocket_upgrade_is_denied_with_a_real_400_where_the_server_can() -> None:
    app = Recorder()
    extensions: dict[str, dict[str, Any]] = {"websocket.http.response": {}}
    sent = await _call(HostGuard(app), _scope("websocket", b"api/x?", extensions=extensions))
    assert [message["type"] for message in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["status"] == 400
    assert app.scopes == []


async def test_a_websocket_upgrade_is_closed_where_the_server_cannot_deny() -> None:
    sent = await _call(HostGuard(Recorder()), _scope("websocket", b"api/x?"))
    assert sent == [{"type": "websocket.close", "code": 1008}]


async def test_http_1_1_without_host_is_refused_and_http_1_0_is_not() -> None:
    app = Recorder()
    sent = await _call(HostGuard(app), _scope("http", None))
    assert sent[0]["status"] == 400
    await _call(HostGuard(app), _scope("http", None, http_version="1.0"))
    assert len(app.scopes) == 1


async def test_other_scopes_pass_through() -> None:
    app = Recorder()
    await _call(HostGuard(app), {"type": "lifespan"})
    assert app.scopes == [{"type": "lifespan"}]


async def test_a_host_seen_valid_before_is_refused_with_a_second_host_or_a_bad_forward() -> None:
    # The guard remembers valid Host values; that must not let through what a full check
    # would refuse: a repeated Host, or a trusted proxy's invalid forwarded host.
    app = Recorder()
    trusted = [ipaddress.ip_network("10.0.0.0/8")]
    guard = HostGuard(app, trusted_proxies=trusted)
    async with _client(guard, peer="10.1.1.1") as client:
        assert (await client.get("/", headers={"Host": "api.example"})).status_code == 200
        assert (await client.get("/", headers={"Host": "api.example"})).status_code == 200
        forwarded = {"Host": "api.example", "X-Forwarded-Host": "api.example/x?"}
        assert (await client.get("/", headers=forwarded)).status_code == 400
    scope = {"type": "http", "scheme": "http", "http_version": "1.1", "client": ("10.1.1.1", 1)}
    repeated = [(b"host", b"api.example"), (b"host", b"other.example")]
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await guard({**scope, "headers": repeated}, _no_body, send)
    assert sent[0]["status"] == 400
    assert len(app.scopes) == 2


async def test_the_hosts_remembered_are_bounded() -> None:
    app = Recorder()
    guard = HostGuard(app)
    async with _client(guard) as client:
        for n in range(100):
            response = await client.get("/", headers={"Host": f"host-{n}.example"})
            assert response.status_code == 200
        bad = await client.get("/", headers={"Host": "host-1.example/x"})
    assert bad.status_code == 400
    assert len(guard._known_hosts) == 64


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
