"""Live updates over a real WebSocket (``/api/ws``) against the real server."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from auth.testing import DpopKey
from tests.integration.conftest import Server, raw_upgrade, receive_json

pytestmark = pytest.mark.integration


async def _ready(socket_: Any) -> dict[str, Any]:
    message = await receive_json(socket_)
    assert message["type"] == "ready"
    return message


async def test_upgrade_selects_todo_v1_and_never_echoes_the_token(server: Server) -> None:
    token = server.issuer.token("alice")
    async with server.socket(token) as live:
        assert live.subprotocol == "todo.v1"
        assert live.response is not None
        assert token not in str(live.response.headers)
        await _ready(live)


async def test_rest_changes_arrive_in_order_with_increasing_seq(server: Server) -> None:
    async with server.socket(server.issuer.token("ws-order")) as live:
        ready = await _ready(live)
        todo = server.create("ws-order", "first")
        path = f"{server.url}/api/todos/{todo['id']}"
        async with httpx.AsyncClient(headers=server.bearer("ws-order")) as client:
            await client.patch(path, json={"text": "second"})
            await client.delete(path)
        events = [await receive_json(live) for _ in range(3)]
    assert [event["type"] for event in events] == ["todo.created", "todo.updated", "todo.deleted"]
    assert [event["seq"] for event in events] == [
        ready["seq"] + 1,
        ready["seq"] + 2,
        ready["seq"] + 3,
    ]
    assert events[0]["todo"]["text"] == "first"
    assert events[1]["todo"]["text"] == "second"
    assert events[2]["todo"] == {"id": todo["id"]}


async def test_a_user_never_receives_another_users_events(server: Server) -> None:
    async with (
        server.socket(server.issuer.token("ws-ann")) as ann,
        server.socket(server.issuer.token("ws-ben")) as ben,
    ):
        await _ready(ann)
        await _ready(ben)
        server.create("ws-ann", "ann's secret")
        server.create("ws-ben", "ben's secret")
        assert (await receive_json(ann))["todo"]["text"] == "ann's secret"
        assert (await receive_json(ben))["todo"]["text"] == "ben's secret"
        with pytest.raises(TimeoutError):
            await receive_json(ann, timeout=0.5)


@pytest.mark.parametrize(
    ("subprotocols", "status"),
    [
        (["todo.v1", "authorization_bearer_not.a.token"], 401),
        (["todo.v1"], 401),
        (["todo.v1", "authorization_bearer_eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."], 401),
        (["chat", "authorization_bearer_x"], 400),
    ],
)
async def test_bad_upgrades_are_refused_before_accept_with_http_status(
    server: Server, subprotocols: list[str], status: int
) -> None:
    from websockets.asyncio.client import connect

    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, subprotocols=subprotocols):  # type: ignore[arg-type]
            pass
    response = refused.value.response
    assert response.status_code == status
    if status == 401:
        assert response.headers.get_all("WWW-Authenticate")[0].startswith("Bearer realm=")


async def test_a_refresh_with_someone_elses_token_closes_4403(server: Server) -> None:
    async with server.socket(server.issuer.token("ws-owner")) as live:
        await _ready(live)
        await live.send(
            json.dumps({"type": "auth.refresh", "token": server.issuer.token("ws-intruder")})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await receive_json(live)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_unknown_messages_close_4400(server: Server) -> None:
    async with server.socket(server.issuer.token("ws-chatty")) as live:
        await _ready(live)
        await live.send("not json")
        with pytest.raises(ConnectionClosed) as closed:
            await receive_json(live)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400


# -- DPoP-bound tokens: the application-level proof --------------------------------


async def test_dpop_bound_token_needs_a_proof_as_first_message(server: Server) -> None:
    key = DpopKey()
    token = server.issuer.token("ws-dpop", dpop_key=key)
    async with server.socket(token) as live:
        proof = key.proof("GET", f"{server.url}/api/ws", access_token=token)
        await live.send(json.dumps({"type": "auth.dpop", "proof": proof}))
        await _ready(live)
        server.create("ws-dpop", "bound")
        assert (await receive_json(live))["type"] == "todo.created"


async def test_dpop_bound_token_without_proof_is_closed_4401(server: Server) -> None:
    key = DpopKey()
    token = server.issuer.token("ws-dpop-lazy", dpop_key=key)
    async with server.socket(token) as live:
        with pytest.raises(ConnectionClosed) as closed:
            await receive_json(live, timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


@pytest.mark.parametrize("problem", ["other-url", "other-key", "no-ath", "replayed"])
async def test_dpop_bound_token_with_a_bad_proof_is_closed_4401(
    server: Server, problem: str
) -> None:
    key = DpopKey()
    token = server.issuer.token("ws-dpop-bad", dpop_key=key)
    url = f"{server.url}/api/ws"
    proof = {
        "other-url": lambda: key.proof("GET", f"{server.url}/api/other", access_token=token),
        "other-key": lambda: DpopKey().proof("GET", url, access_token=token),
        "no-ath": lambda: key.proof("GET", url),
        "replayed": lambda: key.proof("GET", url, access_token=token, jti="ws-replayed-once"),
    }[problem]()
    if problem == "replayed":
        async with server.socket(token) as first:
            await first.send(json.dumps({"type": "auth.dpop", "proof": proof}))
            await _ready(first)
    async with server.socket(token) as live:
        await live.send(json.dumps({"type": "auth.dpop", "proof": proof}))
        with pytest.raises(ConnectionClosed) as closed:
            await receive_json(live)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


# -- Resource limits -----------------------------------------------------------------


def _sockets(server: Server) -> int:
    admin = server.bearer("ws-admin", realm_access={"roles": ["todo-admin"]})
    readiness = httpx.get(f"{server.url}/api/admin/readiness", headers=admin).json()
    sockets: int = readiness["checks"]["events"]["sockets"]
    return sockets


async def test_a_slow_consumer_is_dropped_without_affecting_others(server: Server) -> None:
    user = "ws-slow"
    slow = raw_upgrade(server, server.issuer.token(user), receive_buffer=1024)
    try:
        async with server.socket(server.issuer.token(user)) as healthy:
            await _ready(healthy)
            big = "x" * 480
            received = 0
            async with httpx.AsyncClient(
                base_url=server.url, headers=server.bearer(user)
            ) as client:
                for _ in range(400):
                    assert (await client.post("/api/todos", json={"text": big})).status_code == 201
                    while True:
                        try:
                            await receive_json(healthy, timeout=0.001 if received else 5)
                            received += 1
                        except TimeoutError:
                            break
                    if _sockets(server) == 1:
                        break
            while received < 400:
                try:
                    await receive_json(healthy, timeout=1)
                    received += 1
                except TimeoutError:
                    break
            assert _sockets(server) == 1, "the slow consumer should have been dropped"
            server.create(user, "after the drop")
            last = None
            while True:
                try:
                    last = await receive_json(healthy, timeout=1)
                except TimeoutError:
                    break
            assert last is not None
            assert last["todo"]["text"] == "after the drop"
    finally:
        slow.close()


def test_a_client_that_stops_answering_pings_is_cleaned_up(server: Server) -> None:
    silent = raw_upgrade(server, server.issuer.token("ws-silent"))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _sockets(server) != 0:
            time.sleep(0.2)
        assert _sockets(server) == 0
    finally:
        silent.close()


async def test_server_shutdown_closes_sockets_with_1001(issuer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.conftest import api_env
    from tests.services import api_process

    with api_process(api_env(issuer), workdir=tmp_path) as api:
        stopping = Server(api, issuer)
        async with stopping.socket(issuer.token("ws-shutdown")) as live:
            await _ready(live)
            api.process.terminate()
            with pytest.raises(ConnectionClosed) as closed:
                await receive_json(live, timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
        # uvicorn re-raises SIGTERM after a graceful shutdown; the log shows it was one.
        api.process.wait(15)
        assert "Application shutdown complete." in api.output()


@pytest.mark.pg
async def test_upgrade_while_the_database_is_down_is_refused_with_503(issuer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from websockets.asyncio.client import connect

    from tests.integration.conftest import api_env
    from tests.services import api_process, postgres_server

    with postgres_server() as database:
        env = api_env(issuer, DATABASE_URL=database.create_database("ws_outage"))
        with api_process(env, workdir=tmp_path) as api:
            url = api.base_url.replace("http://", "ws://") + "/api/ws"
            token = issuer.token("ws-db-down")
            database.stop("immediate")
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, subprotocols=["todo.v1", f"authorization_bearer_{token}"]):  # type: ignore[list-item]
                    pass
            assert refused.value.response.status_code == 503
