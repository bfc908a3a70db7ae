"""What the data-path benchmark does to a database besides load: seed the caller's
todos, top up todos for ``DELETE`` runs and clear them afterwards, read the caller's
``event_seq``, and watch the caller's live events to prove every write published one.

Direct SQL on the same database the API serves (psycopg for PostgreSQL, sqlite3 for
SQLite, in SQLAlchemy's storage format: UUIDs as 32 hex digits, naive UTC text), never
while a timed run is going.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from uuid6 import uuid7
from websockets.sync.client import connect


class Store:
    """Direct access to the API's database, for set-up between runs."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite:
            self._path = Path(parsed.database or "")
        else:
            self._conninfo = (
                f"host={parsed.host} port={parsed.port} user={parsed.username} "
                f"dbname={parsed.database}"
            )

    @contextlib.contextmanager
    def _db(self) -> Iterator[Any]:
        if self.sqlite:
            with contextlib.closing(sqlite3.connect(self._path, timeout=30)) as db:
                yield db
                db.commit()
        else:
            with psycopg.connect(self._conninfo) as db:
                yield db

    def _sql(self, sql: str) -> str:
        return sql if self.sqlite else sql.replace("?", "%s")

    def _uuid(self, value: uuid.UUID) -> Any:
        return value.hex if self.sqlite else value

    def user_id(self, subject: str) -> uuid.UUID:
        with self._db() as db:
            row = db.execute(self._sql("SELECT id FROM users WHERE subject = ?"), (subject,))
            value = row.fetchone()[0]
        return value if isinstance(value, uuid.UUID) else uuid.UUID(value)

    def event_seq(self, owner: uuid.UUID) -> int:
        with self._db() as db:
            row = db.execute(
                self._sql("SELECT event_seq FROM users WHERE id = ?"), (self._uuid(owner),)
            )
            seq: int = row.fetchone()[0]
        return seq

    def insert_todos(self, owner: uuid.UUID, count: int) -> list[uuid.UUID]:
        """``count`` new todos of ``owner`` (UUIDv7 ids, in creation order)."""
        ids = [uuid7() for _ in range(count)]
        now = datetime.now(UTC)
        stamp: Any = str(now.replace(tzinfo=None)) if self.sqlite else now
        rows = [
            (self._uuid(i), self._uuid(owner), f"todo {n}", n % 3 == 0, stamp, stamp)
            for n, i in enumerate(ids)
        ]
        with self._db() as db:
            if self.sqlite:
                db.executemany("INSERT INTO todos VALUES (?, ?, ?, ?, ?, ?, 1)", rows)
            else:
                with db.cursor().copy("COPY todos FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row((*row, 1))
        return ids

    def ids_after(self, owner: uuid.UUID, after: uuid.UUID) -> list[uuid.UUID]:
        """The owner's todos created after ``after`` (ids are time-ordered)."""
        with self._db() as db:
            rows = db.execute(
                self._sql("SELECT id FROM todos WHERE owner_id = ? AND id > ? ORDER BY id"),
                (self._uuid(owner), self._uuid(after)),
            ).fetchall()
        return [r[0] if isinstance(r[0], uuid.UUID) else uuid.UUID(r[0]) for r in rows]

    def delete_after(self, owner: uuid.UUID, after: uuid.UUID) -> None:
        with self._db() as db:
            db.execute(
                self._sql("DELETE FROM todos WHERE owner_id = ? AND id > ?"),
                (self._uuid(owner), self._uuid(after)),
            )


class LiveWatch:
    """One ``/api/ws`` socket of the caller, open for the whole section: collects the
    ``seq`` of every event, so the section can prove that each acknowledged write
    published its event and that the caller's sequence has no gap."""

    def __init__(self, base_url: str, token: str) -> None:
        url = base_url.replace("http://", "ws://") + "/api/ws"
        self._socket = connect(
            url,
            subprotocols=["todo.v1", f"authorization_bearer_{token}"],  # type: ignore[list-item]
            max_size=None,
        )
        ready = json.loads(self._socket.recv(timeout=10))
        assert ready["type"] == "ready", ready
        self.first_seq: int = ready["seq"]
        self.seqs: list[int] = []
        self.other: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(Exception):
            for text in self._socket:
                message = json.loads(text)
                if "seq" in message and message["type"].startswith("todo."):
                    self.seqs.append(message["seq"])
                else:
                    self.other.append(message["type"])

    def verdict(self, final_seq: int, timeout: float = 30) -> dict[str, Any]:
        """Wait for the events up to ``final_seq``; what arrived against what should."""
        deadline = time.monotonic() + timeout
        while (not self.seqs or self.seqs[-1] < final_seq) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._socket.close()
        self._thread.join(5)
        expected = list(range(self.first_seq + 1, final_seq + 1))
        return {
            "events": len(self.seqs),
            "expected": len(expected),
            # every write's event arrived exactly once: no gap, no duplicate
            "gapless": sorted(self.seqs) == expected,
            # and in seq order, so a client never sees a gap that is not one
            "in_order": self.seqs == expected,
            "other_messages": sorted(set(self.other)),
        }
