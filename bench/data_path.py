"""Section 6: the data path. The TODO routes on PostgreSQL and on SQLite,
against the hand-written floor (``bench/floor.py``: Starlette + a driver's pool, the
same SQL, orjson), with psycopg and with asyncpg.

One PostgreSQL 15 cluster (``tests.services.postgres_server``, on the load core), the
caller owning 1,000 todos in each database. Every server is one process on the measured
core; wrk (``-t1 -c32``) on the other, ``bench/wrk/data.lua`` for the verbs. The API
runs as shipped (the access line on), ``OIDC_MODE=verify`` with a real ES256 token from
the loopback issuer, each write's CPU compared with ``/api/me``'s on the same server. A warm-up
round, then ``runs`` rounds that interleave every cell. Server CPU per request is the
process's utime + stime (``/proc/<pid>/stat``) over the run, divided by the requests.

Writes: PATCH cycles over the 1,000 todos; each DELETE names a todo once (the ones the
round's POST created, topped up by SQL); after the round the extra todos are removed
by SQL, so every round starts from the same 1,000. A live socket of the caller stays
open on each API through the section and must receive one event per write, its ``seq``
without a gap (``bench.data_store.LiveWatch``).

With ``baseline`` (``python -m bench --baseline DIR``, DIR another checkout, e.g. ``git
worktree add /tmp/before main``), the APIs of that code run too, on databases of their
own seeded alike, their cells interleaved with ours in every round: a change is measured
against the code before it in the same run.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.data.migrations import upgrade_to_head
from auth.testing import TestIssuer
from bench import profiling
from bench.data_store import LiveWatch, Store
from bench.fixtures import TOKEN_LIFETIME
from bench.http_load import wrk
from bench.servers import Server, api_env, pinned_server, python_api
from bench.stats import ROOT, summary
from tests.services import free_port, postgres_server

LUA = ROOT / "bench" / "wrk" / "data.lua"
SUBJECT = "data-path-user"
SEEDED = 1_000
API_PG, API_SQLITE = "api postgresql", "api sqlite"
FLOOR_PSYCOPG, FLOOR_ASYNCPG = "floor psycopg", "floor asyncpg"
APIS = (API_PG, API_SQLITE)
#: The name of an API of the baseline code: "api sqlite before".
BEFORE = " before"
READS = ("list", "get")
WRITES = ("POST", "PATCH", "DELETE")
#: (server, route) cells profiled after the timed rounds (one extra run each).
PROFILED = ((API_PG, "list"), (API_PG, "POST"), (API_SQLITE, "list"), (API_SQLITE, "POST"))


@dataclass(frozen=True)
class Settings:
    runs: int = 5
    seconds: int = 5
    connections: int = 32
    profile: bool = True
    #: Another checkout whose APIs run beside ours (``BEFORE`` in their names).
    baseline: Path | None = None

    def apis(self) -> tuple[str, ...]:
        return APIS + tuple(api + BEFORE for api in APIS) if self.baseline else APIS


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def floor_server(name: str, driver: str, dsn: str, owner: uuid.UUID) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FLOOR_DRIVER": driver,
        "FLOOR_DSN": dsn,
        "FLOOR_OWNER_ID": str(owner),
        "FLOOR_PORT": str(port),
    }
    command = [sys.executable, "-m", "bench.floor"]
    with pinned_server(name, command, env, port, what=f"the floor ({driver})") as server:
        yield server


@dataclass
class Target:
    """One API and its database, with what the write runs need."""

    server: Server
    store: Store
    owner: uuid.UUID
    seeded: list[uuid.UUID]
    watch: LiveWatch | None = None
    delete_rate: float = 4_000.0


def _seed(server: Server, store: Store, headers: dict[str, str]) -> Target:
    # The first request creates the caller's user row; the todos are bulk-loaded.
    httpx.get(f"{server.base_url}/api/todos", headers=headers, timeout=10).raise_for_status()
    owner = store.user_id(SUBJECT)
    seeded = store.insert_todos(owner, SEEDED)
    return Target(server, store, owner, seeded)


@contextlib.contextmanager
def running(
    issuer: TestIssuer, headers: dict[str, str], settings: Settings
) -> Iterator[dict[str, Any]]:
    """The servers, the databases seeded; yields {name: Server | Target}."""
    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(postgres_server())
        targets: dict[str, Any] = {}
        pg_url = ""
        for name in settings.apis():
            if name.startswith(API_PG):
                url = postgres.create_database(f"data_path_{uuid.uuid4().hex[:6]}")
            else:
                url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-data-')) / 'todo.db'}"
            if name == API_PG:
                pg_url = url
            upgrade_to_head(url)
            env = api_env(
                issuer.issuer,
                issuer.audience,
                DATABASE_URL=url,
                DB_MIGRATE_ON_START="false",
                LIVE_SEND_QUEUE_SIZE="1000000",  # the watching socket must not be dropped
            )
            root = settings.baseline if name.endswith(BEFORE) and settings.baseline else ROOT
            server = stack.enter_context(python_api(name, env, root=root))
            targets[name] = _seed(server, Store(url), headers)
        owner = targets[API_PG].owner
        dsn = f"postgresql://postgres@127.0.0.1:{postgres.port}/{pg_url.rsplit('/', 1)[1]}"
        for name, driver in ((FLOOR_PSYCOPG, "psycopg"), (FLOOR_ASYNCPG, "asyncpg")):
            targets[name] = stack.enter_context(floor_server(name, driver, dsn, owner))
        yield targets


def _paths_file(paths: list[str]) -> Path:
    path = Path(tempfile.mkstemp(prefix="bench-paths-", suffix=".txt")[1])
    path.write_text("\n".join(paths) + "\n")
    return path


def _prepare(target: Target, route: str, settings: Settings) -> dict[str, str]:
    """The wrk script's environment for ``route`` (and, for DELETE, the todos to delete)."""
    if route in ("list", "me"):
        return {"BENCH_METHOD": "GET"}
    if route == "get":
        return {"BENCH_METHOD": "GET", "BENCH_PATHS": str(_paths_file([_todo(target.seeded[-1])]))}
    if route == "POST":
        return {"BENCH_METHOD": "POST", "BENCH_BODY": '{"text": "a todo written by wrk"}'}
    if route == "PATCH":
        paths = [_todo(i) for i in target.seeded]
        return {
            "BENCH_METHOD": "PATCH",
            "BENCH_BODY": '{"done": true}',
            "BENCH_PATHS": str(_paths_file(paths)),
        }
    ids = target.store.ids_after(target.owner, target.seeded[-1])
    needed = int(target.delete_rate * settings.seconds * 1.5) + 500
    ids += target.store.insert_todos(target.owner, max(0, needed - len(ids)))
    return {"BENCH_METHOD": "DELETE", "BENCH_PATHS": str(_paths_file([_todo(i) for i in ids]))}


def _todo(todo_id: uuid.UUID) -> str:
    return f"/api/todos/{todo_id}"


def measure(
    target: Target | Server, route: str, settings: Settings, headers: dict[str, str]
) -> dict[str, Any]:
    server = target.server if isinstance(target, Target) else target
    if isinstance(target, Target):
        script_env = _prepare(target, route, settings)
    elif route == "get":
        paths = _paths_file([_todo(_FLOOR_TODO[0])])
        script_env = {"BENCH_METHOD": "GET", "BENCH_PATHS": str(paths)}
    else:
        script_env = {"BENCH_METHOD": "GET"}
    path = "/api/me" if route == "me" else "/api/todos"
    before = cpu_seconds(server.pid)
    figures = wrk(
        server.base_url + path,
        connections=settings.connections,
        seconds=settings.seconds,
        headers=headers,
        script=LUA,
        script_env=script_env,
    )
    cpu = cpu_seconds(server.pid) - before
    figures["cpu_us"] = 1e6 * cpu / max(figures["requests"], 1)
    if "BENCH_PATHS" in script_env:
        Path(script_env["BENCH_PATHS"]).unlink()
    if isinstance(target, Target) and route == "DELETE":
        target.delete_rate = max(target.delete_rate, figures["rps"])
        target.store.delete_after(target.owner, target.seeded[-1])
    return figures


#: The todo the floors read for ``get`` (the same one the APIs read), set by ``run``.
_FLOOR_TODO: list[uuid.UUID] = []


def plan(apis: tuple[str, ...] = APIS) -> list[tuple[str, str]]:
    """(server, route) cells of one round, reads first, then each write on every API."""
    cells = [(server, route) for route in READS for server in (*apis, FLOOR_PSYCOPG, FLOOR_ASYNCPG)]
    cells += [(server, "me") for server in apis]
    cells += [(server, route) for route in WRITES for server in apis]
    return cells


def run(issuer: TestIssuer, settings: Settings, log: Any = print) -> dict[str, Any]:
    token = issuer.token(SUBJECT, alg="ES256", exp=int(time.time()) + TOKEN_LIFETIME)
    headers = {"Authorization": f"Bearer {token}"}
    apis = settings.apis()
    results: dict[tuple[str, str], list[dict[str, Any]]] = {cell: [] for cell in plan(apis)}
    profiles: dict[str, Any] = {}
    live: dict[str, Any] = {}
    with running(issuer, headers, settings) as servers:
        _FLOOR_TODO[:] = [servers[API_PG].seeded[-1]]
        for name in apis:
            servers[name].watch = LiveWatch(servers[name].server.base_url, token)
        for round_number in range(settings.runs + 1):
            for server, route in plan(apis):
                figures = measure(servers[server], route, settings, headers)
                if round_number:
                    results[(server, route)].append(figures)
                log(
                    f"  data path round {round_number}/{settings.runs} {server:22} {route:6} "
                    f"{figures['rps']:8,.0f} req/s p50 {figures['p50_ms']:6.2f} ms "
                    f"p99 {figures['p99_ms']:7.2f} ms {figures['cpu_us']:6.0f} us CPU"
                    + (f" FAILED {figures['failed']}" if figures["failed"] else "")
                )
        for name in apis:
            target = servers[name]
            live[name] = target.watch.verdict(target.store.event_seq(target.owner))
            log(f"  live events {name}: {live[name]}")
        if settings.profile and profiling.available():
            for server, route in PROFILED:
                pid = servers[server].server.pid
                with profiling.recording(pid, settings.seconds + 1) as profile:
                    measure(servers[server], route, settings, headers)
                profiles[f"{server} {route}"] = profile
    cells = [
        {
            "server": server,
            "route": route,
            "rps": summary([r["rps"] for r in runs]),
            "p50_ms": summary([r["p50_ms"] for r in runs]),
            "p99_ms": summary([r["p99_ms"] for r in runs]),
            "cpu_us": summary([r["cpu_us"] for r in runs]),
            "failed": sum(r["failed"] for r in runs),
        }
        for (server, route), runs in results.items()
    ]
    baseline = str(settings.baseline) if settings.baseline else None
    return {
        "connections": settings.connections,
        "cells": cells,
        "live": live,
        "profiles": profiles,
        "baseline": baseline,
    }
