"""Section 3: WebSocket fan-out. 1,000 sockets over 100 users on ``/api/ws``; latency
from a REST write (``POST /api/todos``) to the ``todo.created`` event on each of the
writer's sockets, and the server's memory per socket.

The API runs on the measured core; the 1,000 clients (websockets, permessage-deflate
offered as browsers do) and the writers run in this process on the load core. Writes
are made one at a time, each user in turn, and each waits for its 10 events, so the
figure is the path's latency, not a queue's. One round = one write per user.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from auth.testing import TestIssuer
from bench.cores import rss_bytes
from bench.fixtures import TOKEN_LIFETIME
from bench.servers import Server, api_env, python_api
from bench.stats import percentile, summary


@dataclass(frozen=True)
class Settings:
    users: int = 100
    sockets_per_user: int = 10
    runs: int = 5
    open_concurrency: int = 50
    event_timeout: float = 5.0


class Arrivals:
    """Arrival times of events, by todo text (each write has a unique text)."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.complete: dict[str, asyncio.Event] = {}
        self.expected = 0

    def expect(self, text: str, count: int) -> asyncio.Event:
        self.expected = count
        self.complete[text] = asyncio.Event()
        return self.complete[text]

    def record(self, text: str, at: float) -> None:
        self.times[text].append(at)
        event = self.complete.get(text)
        if event is not None and len(self.times[text]) >= self.expected:
            event.set()


async def _reader(socket: ClientConnection, arrivals: Arrivals) -> None:
    async for message in socket:
        at = time.perf_counter()
        event = json.loads(message)
        if event.get("type") == "todo.created":
            arrivals.record(event["todo"]["text"], at)


async def _open(
    url: str, token: str, gate: asyncio.Semaphore, compression: str | None = "deflate"
) -> ClientConnection:
    async with gate:
        socket = await connect(
            url,
            subprotocols=["todo.v1", f"authorization_bearer_{token}"],  # type: ignore[list-item]
            compression=compression,
            proxy=None,
            ping_interval=None,
            max_queue=None,
            open_timeout=30,
        )
        ready = json.loads(await socket.recv())
        assert ready["type"] == "ready", ready
        return socket


async def _measure(
    server: Server, tokens: list[str], settings: Settings, log: Any
) -> dict[str, Any]:
    ws_url = server.base_url.replace("http", "ws", 1) + "/api/ws"
    clients = [
        httpx.AsyncClient(
            base_url=server.base_url, timeout=30, headers={"Authorization": f"Bearer {t}"}
        )
        for t in tokens
    ]
    for client in clients:  # user rows, verified-token cache: only sockets differ after this
        (await client.get("/api/todos")).raise_for_status()
    rss_before = rss_bytes(server.pid)
    gate = asyncio.Semaphore(settings.open_concurrency)
    opened = time.perf_counter()
    sockets = await asyncio.gather(
        *(_open(ws_url, token, gate) for token in tokens for _ in range(settings.sockets_per_user))
    )
    open_seconds = time.perf_counter() - opened
    await asyncio.sleep(1)
    rss_after = rss_bytes(server.pid)
    arrivals = Arrivals()
    readers = [asyncio.create_task(_reader(socket, arrivals)) for socket in sockets]
    rounds, writes_ms, missing = [], [], 0
    for round_number in range(settings.runs + 1):  # round 0 is the warm-up
        latencies = []
        for user, client in enumerate(clients):
            text = f"round {round_number} user {user}"
            done = arrivals.expect(text, settings.sockets_per_user)
            start = time.perf_counter()
            (await client.post("/api/todos", json={"text": text})).raise_for_status()
            writes_ms.append((time.perf_counter() - start) * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), settings.event_timeout)
            missing += settings.sockets_per_user - len(arrivals.times[text])
            latencies += [(at - start) * 1000 for at in arrivals.times[text]]
        if round_number:
            rounds.append(latencies)
            log(
                f"  websocket round {round_number}/{settings.runs}: p50 "
                f"{percentile(latencies, 0.5):.2f} ms p99 {percentile(latencies, 0.99):.2f} ms"
            )
    for task in readers:
        task.cancel()
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
    for client in clients:
        await client.aclose()
    every = [value for latencies in rounds for value in latencies]
    return {
        "sockets": len(sockets),
        "users": len(tokens),
        "open_seconds": open_seconds,
        "p50_ms": summary([percentile(r, 0.5) for r in rounds]),
        "p99_ms": summary([percentile(r, 0.99) for r in rounds]),
        "p99_all_ms": percentile(every, 0.99),
        "post_p50_ms": percentile(writes_ms, 0.5),
        "missing_events": missing,
        "rss_before_mib": rss_before / 2**20,
        "rss_after_mib": rss_after / 2**20,
        "bytes_per_socket": (rss_after - rss_before) / len(sockets),
    }


async def _memory_without_deflate(server: Server, tokens: list[str], settings: Settings) -> float:
    """RSS per socket when clients do not offer permessage-deflate (a fresh server)."""
    ws_url = server.base_url.replace("http", "ws", 1) + "/api/ws"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        for token in tokens:
            headers = {"Authorization": f"Bearer {token}"}
            (await client.get("/api/todos", headers=headers)).raise_for_status()
    before = rss_bytes(server.pid)
    gate = asyncio.Semaphore(settings.open_concurrency)
    sockets = await asyncio.gather(
        *(
            _open(ws_url, token, gate, compression=None)
            for token in tokens
            for _ in range(settings.sockets_per_user)
        )
    )
    await asyncio.sleep(1)
    after = rss_bytes(server.pid)
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
    return (after - before) / len(sockets)


def run(issuer: TestIssuer, settings: Settings, log: Any = print) -> dict[str, Any]:
    exp = int(time.time()) + TOKEN_LIFETIME
    tokens = [issuer.token(f"ws-user-{n}", alg="ES256", exp=exp) for n in range(settings.users)]
    with python_api("fastapi+auth", api_env(issuer.issuer, issuer.audience)) as server:
        result = asyncio.run(_measure(server, tokens, settings, log))
    with python_api("fastapi+auth", api_env(issuer.issuer, issuer.audience)) as server:
        result["bytes_per_socket_without_deflate"] = asyncio.run(
            _memory_without_deflate(server, tokens, settings)
        )
    result["met"] = result["p99_ms"]["median"] < 50 and not result["missing_events"]
    return result
