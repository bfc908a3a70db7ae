"""A live socket ends when its token expires or its signing key is removed, and
``auth.refresh`` moves that moment; the socket's clock is moved by hand, so nothing here
waits for a token to expire."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.main import create_app
from auth.testing import TestIssuer
from tests.app.conftest import app_settings, auth_settings
from tests.services import free_port, issuer_server


class ManualClock:
    """Wall-clock time that moves only when told to; a sleeper wakes once the clock has
    passed its deadline."""

    def __init__(self, now: float) -> None:
        self.now = now
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        sleeper = (self.now + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(sleeper)
        try:
            await sleeper[1]
        finally:
            self._sleepers.remove(sleeper)

    @property
    def sleeping(self) -> int:
        return len(self._sleepers)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, woken in self._sleepers:
            if deadline <= self.now and not woken.done():
                woken.set_result(None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time())


@contextlib.asynccontextmanager
async def _serving(app: Any) -> AsyncIterator[str]:
    """``app`` under uvicorn on a loopback port, in this test's event loop."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), serving.result()
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/api/ws"
    finally:
        server.should_exit = True
        await serving


@pytest.fixture
async def ws_url(database_url: str, issuer: TestIssuer, clock: ManualClock) -> AsyncIterator[str]:
    """The API under uvicorn on a loopback port, in this test's event loop, on ``clock``."""
    async with _serving(
        create_app(app_settings(database_url), auth_settings(issuer), clock=clock)
    ) as url:
        yield url


def _socket(ws_url: str, token: str) -> Any:
    return connect(ws_url, subprotocols=["todo.v1", f"authorization_bearer_{token}"])  # type: ignore[list-item]


async def _receive(live: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(live.recv(), 5))
    return message


async def _still_open(live: ClientConnection) -> bool:
    """A ping answered: the server has also run everything the last clock move woke."""
    await live.send(json.dumps({"type": "ping"}))
    kind: str = (await _receive(live))["type"]
    return kind == "pong"


async def _close_code(live: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await _receive(live)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_an_expired_token_closes_the_socket_with_4401(
    ws_url: str, issuer: TestIssuer, clock: ManualClock
) -> None:
    expires_at = int(clock.now) + 300
    async with _socket(ws_url, issuer.token("expiring", exp=expires_at)) as live:
        assert (await _receive(live))["expires_at"] == expires_at
        clock.advance(expires_at - clock.now - 1)
        assert await _still_open(live)
        clock.advance(2)
        assert await _close_code(live) == 4401


async def test_a_fresh_token_on_the_open_socket_extends_it(
    ws_url: str, issuer: TestIssuer, clock: ManualClock
) -> None:
    first_expiry = int(clock.now) + 60
    async with _socket(ws_url, issuer.token("refreshing", exp=first_expiry)) as live:
        await _receive(live)
        fresh = issuer.token("refreshing", exp=first_expiry + 540)
        await live.send(json.dumps({"type": "auth.refresh", "token": fresh}))
        assert await _receive(live) == {"type": "auth.ok", "expires_at": first_expiry + 540}
        clock.advance(120)  # past the first token's expiry
        assert await _still_open(live)
        clock.advance(480)  # past the fresh one's
        assert await _close_code(live) == 4401


async def test_a_socket_closed_by_its_client_stops_watching_its_expiry(
    ws_url: str, issuer: TestIssuer, clock: ManualClock
) -> None:
    async with _socket(ws_url, issuer.token("leaving", exp=int(clock.now) + 300)) as live:
        await _receive(live)
        assert clock.sleeping == 1
    for _ in range(100):  # the server's side of the close runs in this event loop too
        if not clock.sleeping:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the expiry watch of a closed socket is still waiting")


async def test_a_socket_closes_once_its_tokens_signing_key_is_removed(
    database_url: str, clock: ManualClock
) -> None:
    # An issuer of this test's own (its key is removed), whose key set is fetched again
    # every second, and a socket re-verified every 30 s of the socket's clock.
    with issuer_server() as issuer:
        issuer.cache_control = "max-age=1"
        app = create_app(
            app_settings(database_url, live_token_recheck_seconds=30),
            auth_settings(issuer, jwks_min_ttl_seconds=1),
            clock=clock,
        )
        async with _serving(app) as ws_url:
            old_kid = issuer.current_kid["RS256"]
            token = issuer.token("revoked")
            async with _socket(ws_url, token) as live:
                await _receive(live)
                clock.advance(30)
                assert await _still_open(live)  # verified again: still good
                issuer.add_key("RS256")
                issuer.remove_key(old_kid)
                http = ws_url.replace("ws://", "http://").removesuffix("/api/ws")
                async with httpx.AsyncClient(base_url=http) as client:
                    headers = {"Authorization": f"Bearer {token}"}
                    for _ in range(100):  # the next refresh drops the key, cache included
                        if (await client.get("/api/me", headers=headers)).status_code == 401:
                            break
                        await asyncio.sleep(0.1)
                    else:
                        pytest.fail("the removed key still verifies over HTTP")
                clock.advance(30)
                assert await _close_code(live) == 4401
