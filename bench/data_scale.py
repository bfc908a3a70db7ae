"""Section 4: ``GET /api/todos`` latency as the table grows: 10k, 100k and 1M todos over
10k users, on SQLite and on PostgreSQL.

Each database is migrated with Alembic (``upgrade_to_head``), then bulk-loaded with SQL
(sqlite3 ``executemany``; PostgreSQL ``COPY``) and analysed, as autovacuum would have.
The measured user owns exactly 50 todos at every size (the page is the newest 20), the
others share the rest, so only the table's size changes between rows. Latency is wrk
with one connection (no queueing); the three sizes of a backend are served at once and
measured in interleaved rounds (1 warm-up + ``runs``).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url
from uuid6 import uuid7

from app.data.migrations import upgrade_to_head
from auth.testing import TestIssuer
from bench.fixtures import TOKEN_LIFETIME
from bench.http_load import wrk
from bench.servers import api_env, python_api
from bench.stats import paired_ratio, summary
from tests.services import postgres_server

USERS = 10_000
OWN_TODOS = 50
SUBJECT = "scale-user"


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    backends: tuple[str, ...] = ("sqlite", "postgresql")
    runs: int = 5
    seconds: int = 3


def rows(issuer: TestIssuer, size: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Users (the measured one first, named as its token says) and ``size`` todos in
    creation order, ``OWN_TODOS`` of them the measured user's, at random positions."""
    now = datetime.now(UTC).replace(tzinfo=None)
    users = [(uuid7(), issuer.issuer, SUBJECT, SUBJECT.title(), f"{SUBJECT}@example.test")]
    users += [(uuid7(), issuer.issuer, f"user-{n}", None, None) for n in range(1, USERS)]
    rng = random.Random(size)
    own = set(rng.sample(range(size), OWN_TODOS))
    todos = [
        (
            uuid7(),
            users[0][0] if n in own else users[rng.randrange(1, USERS)][0],
            f"todo {n}",
            n % 3 == 0,
            now,
        )
        for n in range(size)
    ]
    return users, todos


def load_sqlite(path: Path, users: list[tuple[Any, ...]], todos: list[tuple[Any, ...]]) -> None:
    # Storage as SQLAlchemy writes it on SQLite: UUID as 32 hex digits, naive UTC text.
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executemany(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
            [(u[0].hex, u[1], u[2], u[3], u[4], str(todos[0][4]), str(todos[0][4])) for u in users],
        )
        db.executemany(
            "INSERT INTO todos VALUES (?, ?, ?, ?, ?, ?, 1)",
            ((t[0].hex, t[1].hex, t[2], int(t[3]), str(t[4]), str(t[4])) for t in todos),
        )
        db.commit()
        db.execute("ANALYZE")


def load_postgres(url: str, users: list[tuple[Any, ...]], todos: list[tuple[Any, ...]]) -> None:
    parsed = make_url(url)
    conninfo = (
        f"host={parsed.host} port={parsed.port} user={parsed.username} dbname={parsed.database}"
    )
    at = todos[0][4].replace(tzinfo=UTC)
    with psycopg.connect(conninfo) as db:
        with db.cursor() as cursor:
            with cursor.copy("COPY users FROM STDIN") as copy:
                for u in users:
                    copy.write_row((u[0], u[1], u[2], u[3], u[4], 0, at, at))
            with cursor.copy("COPY todos FROM STDIN") as copy:
                for t in todos:
                    copy.write_row((t[0], t[1], t[2], t[3], at, at, 1))
        db.commit()
        db.autocommit = True
        db.execute("VACUUM ANALYZE")


@contextlib.contextmanager
def databases(backends: tuple[str, ...]) -> Iterator[Any]:
    """A factory of empty database URLs per backend."""
    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(postgres_server()) if "postgresql" in backends else None
        workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))

        def new(backend: str, name: str) -> str:
            if backend == "sqlite":
                return f"sqlite:///{workdir / f'{name}.db'}"
            assert postgres is not None
            return postgres.create_database(name)

        yield new


def _load(issuer: TestIssuer, backend: str, url: str, size: int) -> float:
    upgrade_to_head(url)
    started = time.perf_counter()
    users, todos = rows(issuer, size)
    if backend == "sqlite":
        load_sqlite(Path(make_url(url).database or ""), users, todos)
    else:
        load_postgres(url, users, todos)
    return time.perf_counter() - started


def _measure_backend(
    issuer: TestIssuer, backend: str, urls: dict[int, str], settings: Settings, log: Any
) -> dict[int, list[dict[str, Any]]]:
    """One API per size, all up at once; rounds interleave the sizes so that noise on
    the machine hits every size alike. Round 0 is the warm-up."""
    token = issuer.token(SUBJECT, alg="ES256", exp=int(time.time()) + TOKEN_LIFETIME)
    headers = {"Authorization": f"Bearer {token}"}
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in urls}
    with contextlib.ExitStack() as stack:
        servers = {
            size: stack.enter_context(
                python_api(
                    f"{backend} {size}", api_env(issuer.issuer, issuer.audience, DATABASE_URL=url)
                )
            )
            for size, url in urls.items()
        }
        for server in servers.values():
            page = httpx.get(f"{server.base_url}/api/todos", headers=headers, timeout=30).json()
            assert len(page["items"]) == 20, page
        for round_number in range(settings.runs + 1):
            for size, server in servers.items():
                figures = wrk(
                    f"{server.base_url}/api/todos",
                    connections=1,
                    seconds=settings.seconds,
                    headers=headers,
                )
                if round_number:
                    runs[size].append(figures)
                    log(
                        f"  data scale round {round_number}/{settings.runs} {backend:10} "
                        f"{size:>9,} todos: p50 {figures['p50_ms']:.2f} ms "
                        f"p99 {figures['p99_ms']:.2f} ms"
                    )
    return runs


def _row(
    backend: str,
    size: int,
    runs: list[dict[str, Any]],
    smallest: list[dict[str, Any]],
    load_seconds: float,
) -> dict[str, Any]:
    return {
        "backend": backend,
        "todos": size,
        "users": USERS,
        "load_seconds": load_seconds,
        "p50_ms": summary([r["p50_ms"] for r in runs]),
        "p99_ms": summary([r["p99_ms"] for r in runs]),
        "rps": summary([r["rps"] for r in runs]),
        "failed": sum(r["failed"] for r in runs),
        # paired by round: the runs of one round are seconds apart
        "p99_vs_smallest": paired_ratio(
            [r["p99_ms"] for r in runs], [r["p99_ms"] for r in smallest]
        ),
    }


def run(issuer: TestIssuer, settings: Settings, log: Any = print) -> list[dict[str, Any]]:
    results = []
    with databases(settings.backends) as new_database:
        for backend in settings.backends:
            urls, load_seconds = {}, {}
            for size in settings.sizes:
                urls[size] = new_database(backend, f"scale_{size}_{uuid.uuid4().hex[:6]}")
                load_seconds[size] = _load(issuer, backend, urls[size], size)
            runs = _measure_backend(issuer, backend, urls, settings, log)
            smallest = runs[min(settings.sizes)]
            results += [
                _row(backend, size, runs[size], smallest, load_seconds[size])
                for size in settings.sizes
            ]
    return results
