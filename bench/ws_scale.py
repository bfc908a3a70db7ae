"""Section 3: WebSocket scale. One ``python -m app`` worker holding 10,000 live sockets.

The API runs as shipped on the measured core, with ``LIVE_MAX_SOCKETS``,
``API_MAX_CONNECTIONS`` and ``API_MAX_CONNECTIONS_PER_CLIENT`` raised above the socket
count (the clients share one address); the clients run in this process
on the load core. A Python WebSocket library costs more per handshake than the server
does, so the clients are written to the wire here (``RawSocket``: the RFC 6455 handshake
as bytes, server frames parsed, pings answered): what is measured is the server.

* **Open rate**: 10,000 sockets over 1,000 users (10 each), opened ``concurrency`` at a
  time, the users' rows and verified tokens made beforehand (only the sockets differ).
  Sockets per second from the first upgrade request to the last ``ready`` message.
* **Memory**: the API's RSS after the sockets are open and idle, less its RSS before,
  per socket.
* **Delivery**: ``POST /api/todos`` at ``writes_per_second``, each for the next of the
  1,000 users in turn, while every socket stays open; latency from sending the POST to
  the ``todo.created`` event's arrival on each of the writer's 10 sockets. Events that
  never arrive are counted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from auth.testing import TestIssuer
from bench import profiling
from bench.cores import rss_bytes
from bench.data_path import cpu_seconds
from bench.fixtures import TOKEN_LIFETIME
from bench.servers import Server, api_env, python_api
from bench.stats import percentile


@dataclass(frozen=True)
class Settings:
    users: int = 1000
    sockets_per_user: int = 10
    concurrency: int = 200  # upgrades in flight
    writes_per_second: int = 100
    write_seconds: float = 10.0
    event_timeout: float = 5.0

    @property
    def sockets(self) -> int:
        return self.users * self.sockets_per_user


#: Goals: sockets held and memory per socket, opens per second, delivery p99.
GOAL_SOCKETS = 10_000
GOAL_KIB_PER_SOCKET = 30
GOAL_OPENS_PER_SECOND = 2000
GOAL_DELIVERY_P99_MS = 50


@dataclass
class Arrivals:
    """Arrival times of ``todo.created`` events, by todo text (unique per write), and
    how many expected events have not arrived yet."""

    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outstanding: int = 0
    all_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, count: int) -> None:
        self.outstanding += count
        self.all_arrived.clear()

    def record(self, message: bytes, at: float) -> None:
        event = json.loads(message)
        if event.get("type") == "todo.created":
            self.times[event["todo"]["text"]].append(at)
            self.outstanding -= 1
            if self.outstanding <= 0:
                self.all_arrived.set()


class RawSocket(asyncio.Protocol):
    """A client WebSocket written to the wire: sends the upgrade, waits for 101 and the
    ``ready`` message, then hands every text message to ``arrivals``. Server frames
    are unmasked (RFC 6455 §5.1); a ping is answered with a pong (masked, zero key)."""

    def __init__(self, request: bytes, arrivals: Arrivals) -> None:
        self.request = request
        self.arrivals = arrivals
        self.buffer = b""
        self.upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before ready"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.upgraded:
            head, found, rest = self.buffer.partition(b"\r\n\r\n")
            if not found:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                return
            self.upgraded, self.buffer = True, rest
        now = time.perf_counter()
        while len(self.buffer) >= 2:
            opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            start = 2
            if length == 126:
                length, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif length == 127:
                length, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + length:
                return
            payload = self.buffer[start : start + length]
            self.buffer = self.buffer[start + length :]
            if opcode == 0x1:
                if not self.ready.done():
                    self.ready.set_result(None)
                else:
                    self.arrivals.record(payload, now)
            elif opcode == 0x9 and self.transport is not None:  # ping -> pong
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)


def upgrade_request(host: str, token: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        "GET /api/ws HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: todo.v1, authorization_bearer_{token}\r\n\r\n"
    ).encode()


async def _open_all(
    server: Server, tokens: list[str], settings: Settings, arrivals: Arrivals
) -> tuple[list[RawSocket], float]:
    host_port = server.base_url.removeprefix("http://")
    host, port = host_port.split(":")
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(settings.concurrency)
    requests = [
        upgrade_request(host_port, token)
        for token in tokens
        for _ in range(settings.sockets_per_user)
    ]

    async def open_one(request: bytes) -> RawSocket:
        async with gate:
            _, socket = await loop.create_connection(
                lambda: RawSocket(request, arrivals), host, int(port)
            )
            await asyncio.wait_for(socket.ready, 30)
            return socket

    started = time.perf_counter()
    sockets = await asyncio.gather(*(open_one(request) for request in requests))
    return list(sockets), time.perf_counter() - started


async def _deliver(
    server: Server, tokens: list[str], settings: Settings, arrivals: Arrivals
) -> dict[str, Any]:
    writes = int(settings.writes_per_second * settings.write_seconds)
    interval = 1 / settings.writes_per_second
    sent: dict[str, float] = {}
    post_ms: list[float] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as client:

        async def write(n: int) -> None:
            token = tokens[n % len(tokens)]
            text = f"scale write {n}"
            arrivals.expect(settings.sockets_per_user)
            sent[text] = start = time.perf_counter()
            response = await client.post(
                "/api/todos", json={"text": text}, headers={"Authorization": f"Bearer {token}"}
            )
            response.raise_for_status()
            post_ms.append((time.perf_counter() - start) * 1000)

        began = time.perf_counter()
        tasks = []
        for n in range(writes):
            # Paced from the start, not from the previous write: a slow write does not
            # lower the rate.
            await asyncio.sleep(max(0.0, began + n * interval - time.perf_counter()))
            tasks.append(asyncio.create_task(write(n)))
        await asyncio.gather(*tasks)
        achieved = writes / (time.perf_counter() - began)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(arrivals.all_arrived.wait(), settings.event_timeout)
    expected = settings.sockets_per_user
    latencies = [(at - sent[text]) * 1000 for text in sent for at in arrivals.times.get(text, [])]
    missing = sum(max(0, expected - len(arrivals.times.get(text, []))) for text in sent)
    return {
        "writes": writes,
        "writes_per_second": achieved,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "post_p50_ms": percentile(post_ms, 0.5),
        "post_p99_ms": percentile(post_ms, 0.99),
        "missing_events": missing,
    }


async def _measure(
    server: Server, tokens: list[str], settings: Settings, log: Any
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as client:

        async def warm(token: str) -> None:  # the user's row and the verified token
            response = await client.get("/api/todos", headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()

        await asyncio.gather(*(warm(token) for token in tokens))
    await asyncio.sleep(1)
    rss_before = rss_bytes(server.pid)
    arrivals = Arrivals()
    cpu_before = cpu_seconds(server.pid)
    if os.environ.get("BENCH_PROFILE_OPEN"):  # development aid: where opening goes
        with profiling.recording(server.pid, 8) as profile:
            sockets, open_seconds = await _open_all(server, tokens, settings, arrivals)
        await asyncio.sleep(9)
        log(profiling.render(profile, lines=30))
    else:
        sockets, open_seconds = await _open_all(server, tokens, settings, arrivals)
    open_cpu = cpu_seconds(server.pid) - cpu_before
    log(
        f"  websocket scale: {len(sockets):,} sockets open in {open_seconds:.1f} s, "
        f"{open_cpu / len(sockets) * 1e6:.0f} us of the API's CPU each"
    )
    await asyncio.sleep(2)
    rss_after = rss_bytes(server.pid)
    delivery = await _deliver(server, tokens, settings, arrivals)
    log(
        f"  websocket scale: {delivery['writes']} writes at {delivery['writes_per_second']:.0f}/s,"
        f" p50 {delivery['p50_ms']:.1f} ms p99 {delivery['p99_ms']:.1f} ms,"
        f" {delivery['missing_events']} events missing"
    )
    still_open = sum(not socket.closed for socket in sockets)
    for socket in sockets:
        if socket.transport is not None:
            socket.transport.close()
    return {
        "sockets": len(sockets),
        "users": len(tokens),
        "still_open": still_open,
        "open_seconds": open_seconds,
        "opens_per_second": len(sockets) / open_seconds,
        "cpu_us_per_open": open_cpu / len(sockets) * 1e6,
        "rss_before_mib": rss_before / 2**20,
        "rss_after_mib": rss_after / 2**20,
        "bytes_per_socket": (rss_after - rss_before) / len(sockets),
        **delivery,
    }


def run(issuer: TestIssuer, settings: Settings, log: Any = print) -> dict[str, Any]:
    exp = int(time.time()) + TOKEN_LIFETIME
    tokens = [issuer.token(f"ws-user-{n}", alg="ES256", exp=exp) for n in range(settings.users)]
    headroom = settings.sockets + 1000
    env = api_env(
        issuer.issuer,
        issuer.audience,
        LIVE_MAX_SOCKETS=str(headroom),
        API_MAX_CONNECTIONS=str(headroom),
        # Every client socket comes from this one address.
        API_MAX_CONNECTIONS_PER_CLIENT=str(headroom),
    )
    with python_api("fastapi+auth", env) as server:
        result = asyncio.run(_measure(server, tokens, settings, log))
    result["met"] = {
        "sockets": result["still_open"] >= min(GOAL_SOCKETS, settings.sockets),
        "memory": result["bytes_per_socket"] <= GOAL_KIB_PER_SOCKET * 1024,
        "open_rate": result["opens_per_second"] >= GOAL_OPENS_PER_SECOND,
        "delivery": result["p99_ms"] <= GOAL_DELIVERY_P99_MS and not result["missing_events"],
    }
    return result
