"""PostgreSQL dropping the API's connections under load (a restart, a failover,
``pg_terminate_backend``) leaves no request unanswered: each gets its answer or a 503,
and the log has no error traceback. Real server, real PostgreSQL, keep-alive clients."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import httpx
import psycopg
import pytest

from auth.testing import TestIssuer
from tests.integration.conftest import api_env
from tests.services import PostgresServer, api_process

pytestmark = [pytest.mark.integration, pytest.mark.pg]

SECONDS = 3.0


def _terminate_backends(postgres: PostgresServer, database: str, stop: threading.Event) -> int:
    """Kill every backend of ``database`` every 10 ms until ``stop``; how many."""
    killed = 0
    conninfo = f"host=127.0.0.1 port={postgres.port} user=postgres dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as admin:
        while not stop.is_set():
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
            killed += sum(1 for (done,) in rows if done)
            time.sleep(0.01)
    return killed


def test_killed_database_connections_leave_no_request_unanswered(
    postgres: PostgresServer, issuer: TestIssuer
) -> None:
    database = f"restart_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(database)
    with api_process(api_env(issuer, DATABASE_URL=url)) as api:
        headers = {"Authorization": f"Bearer {issuer.token('restart-user')}"}
        with httpx.Client(base_url=api.base_url, headers=headers, timeout=10) as client:
            todo = client.post("/api/todos", json={"text": "read me"}).json()
            statuses: Counter[int] = Counter()
            unanswered: list[str] = []
            stop = threading.Event()
            killed: list[int] = []
            killer = threading.Thread(
                target=lambda: killed.append(_terminate_backends(postgres, database, stop))
            )
            killer.start()
            try:
                deadline = time.monotonic() + SECONDS
                requests = [
                    ("GET", "/api/todos", None),
                    ("GET", f"/api/todos/{todo['id']}", None),
                    ("POST", "/api/todos", {"text": "written during the kills"}),
                ]
                while time.monotonic() < deadline:
                    for method, path, body in requests:
                        try:
                            statuses[client.request(method, path, json=body).status_code] += 1
                        except httpx.TransportError as exc:  # no answer on this connection
                            unanswered.append(f"{method} {path}: {exc!r}")
            finally:
                stop.set()
                killer.join(10)
        # and it serves as before once the kills stop
        assert httpx.get(f"{api.base_url}/api/todos", headers=headers).status_code == 200
        log = api.output()
    assert killed, "the killer thread failed"
    assert killed[0] > 0, "no backend was terminated: the test proves nothing"
    assert unanswered == [], log[-3000:]
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses[200], statuses
    assert statuses[201], statuses
    assert "Traceback" not in log
    assert "ERROR" not in log
