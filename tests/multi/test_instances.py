"""Two API processes behind one PostgreSQL and one Redis: what several instances share.

Real servers throughout (Debian's postgresql and redis-server, ``python -m app`` twice).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect  # feature: live

from auth.testing import DpopKey, TestIssuer
from tests.integration.conftest import (
    api_env,
    receive_json,  # feature: live
)
from tests.services import (
    ApiProcess,
    PostgresServer,
    RedisServer,
    api_process,
    issuer_server,
    redis_server,
)

pytestmark = [pytest.mark.integration, pytest.mark.pg, pytest.mark.redis]

PUBLIC_URL = "https://todo.example"


@dataclass
class Cluster:
    a: ApiProcess
    b: ApiProcess
    redis: RedisServer
    issuer: TestIssuer

    def headers(self, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(subject)}"}

    # feature: live begin
    def socket(self, api: ApiProcess, subject: str) -> connect:
        token = self.issuer.token(subject)
        url = api.base_url.replace("http://", "ws://") + "/api/ws"
        return connect(url, subprotocols=["todo.v1", f"authorization_bearer_{token}"])  # type: ignore[list-item]

    # feature: live end


@pytest.fixture(scope="module")
def cluster(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    database_url = postgres.create_database(f"multi_{uuid.uuid4().hex[:8]}")
    workdir: Path = tmp_path_factory.mktemp("multi")
    with issuer_server() as issuer, redis_server() as redis:
        # Behind one load balancer the instances share a public URL, which is what DPoP
        # proofs name (OIDC_PUBLIC_URL); each still listens on its own port here.
        env = api_env(
            issuer, DATABASE_URL=database_url, REDIS_URL=redis.url, OIDC_PUBLIC_URL=PUBLIC_URL
        )
        with api_process(env, workdir=workdir) as a, api_process(env, workdir=workdir) as b:
            yield Cluster(a, b, redis, issuer)


def _dpop_headers(cluster: Cluster, subject: str, *, jti: str | None = None) -> dict[str, str]:
    key = DpopKey()
    token = cluster.issuer.token(subject, dpop_key=key)
    proof = key.proof("GET", f"{PUBLIC_URL}/api/me", access_token=token, jti=jti)
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def test_a_dpop_proof_used_at_one_instance_is_refused_at_the_other(cluster: Cluster) -> None:
    headers = _dpop_headers(cluster, "multi-dpop")
    assert httpx.get(f"{cluster.a.base_url}/api/me", headers=headers).status_code == 200
    replayed = httpx.get(f"{cluster.b.base_url}/api/me", headers=headers)
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_dpop_proof"


async def test_the_same_proof_sent_to_both_instances_at_once_wins_once(cluster: Cluster) -> None:
    for attempt in range(5):
        headers = _dpop_headers(cluster, f"multi-race-{attempt}")
        async with httpx.AsyncClient(headers=headers) as client:
            responses = await asyncio.gather(
                client.get(f"{cluster.a.base_url}/api/me"),
                client.get(f"{cluster.b.base_url}/api/me"),
            )
        assert sorted(response.status_code for response in responses) == [200, 401]


# feature: live begin
async def test_a_write_at_one_instance_reaches_a_socket_on_the_other(cluster: Cluster) -> None:
    subject = "multi-live"
    async with cluster.socket(cluster.b, subject) as live:
        ready = await receive_json(live)
        assert ready["type"] == "ready"
        async with httpx.AsyncClient(headers=cluster.headers(subject)) as client:
            for index, api in enumerate([cluster.a, cluster.b, cluster.a]):
                response = await client.post(
                    f"{api.base_url}/api/todos", json={"text": f"via {index}"}
                )
                assert response.status_code == 201
        events = [await receive_json(live) for _ in range(3)]
    assert [event["todo"]["text"] for event in events] == ["via 0", "via 1", "via 2"]
    # seq comes from the shared database, so it is gapless across instances.
    assert [event["seq"] for event in events] == [
        ready["seq"] + 1,
        ready["seq"] + 2,
        ready["seq"] + 3,
    ]


# feature: live end


async def _eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    # Async polling: the WebSocket client must keep answering the server's pings meanwhile.
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 (polling another process's readiness)
            await asyncio.sleep(0.2)


async def test_redis_outage_degrades_clearly_and_recovers_without_losing_writes(
    cluster: Cluster,
) -> None:
    subject = "multi-outage"
    a, b = cluster.a.base_url, cluster.b.base_url
    async with (
        cluster.socket(cluster.b, subject) as live,  # feature: live
        httpx.AsyncClient(headers=cluster.headers(subject)) as client,
    ):

        async def ready(base_url: str) -> bool:
            return (await client.get(f"{base_url}/readyz")).status_code == 200

        async def a_not_ready() -> bool:
            return not await ready(a)

        async def both_ready() -> bool:
            return await ready(a) and await ready(b)

        assert (await receive_json(live))["type"] == "ready"  # feature: live
        acknowledged = [await client.post(f"{a}/api/todos", json={"text": "before"})]
        assert (await receive_json(live))["todo"]["text"] == "before"  # feature: live

        cluster.redis.stop()
        await _eventually(a_not_ready)
        report = (await client.get(f"{a}/readyz")).json()["checks"]
        assert report["redis"] == "not ok"
        # Writes do not depend on Redis: they are acknowledged and stored.
        during = await client.post(f"{a}/api/todos", json={"text": "during"})
        assert during.status_code == 201
        acknowledged.append(during)
        # DPoP does (the replay store): refused with 503, never let through unchecked.
        dpop = await client.get(f"{a}/api/me", headers=_dpop_headers(cluster, subject))
        assert dpop.status_code == 503
        assert "Redis unavailable" in cluster.a.output()

        cluster.redis.start()
        await _eventually(both_ready)
        # feature: live begin
        # The socket on B is told it may have missed events, then gets new ones again.
        assert await receive_json(live, timeout=10) == {"type": "resync"}
        # feature: live end
        acknowledged.append(await client.post(f"{a}/api/todos", json={"text": "after"}))
        assert (await receive_json(live))["todo"]["text"] == "after"  # feature: live

        listed = (await client.get(f"{b}/api/todos")).json()["items"]
        assert {item["id"] for item in listed} == {item.json()["id"] for item in acknowledged}
