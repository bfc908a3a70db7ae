"""SQLite, the embedded default: one writer thread, reads on the event loop.

Writers on one SQLite file queue on its lock, and a writer that waits polls with
sleeps: with several writer connections, a write at 32 concurrent requests waited up
to seconds (bench/README.md). So this process writes through one connection owned by
one thread: write transactions run there one after another (``BEGIN IMMEDIATE`` ...
``COMMIT``, all its statements in one hop), and the file lock is only ever contended
by other processes (the busy timeout covers those).

Reads run on the event loop's own connection, in autocommit mode: in WAL mode a reader
never waits for the writer, and a 20-row indexed read costs less than a hop to a thread
and back (measured: bench/README.md). Each read ends its implicit transaction when its
rows are fetched. Values are stored as SQLAlchemy stores them on SQLite (UUIDs as 32 hex
digits, naive UTC datetimes as text), so Alembic and this module agree on the file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.db import DatabaseUnavailable, Row
from app.statements import Statement, Statements, build

BUSY_TIMEOUT_MS = 5_000
#: A reader blocks the event loop while it waits, so it waits little: in WAL mode it only
#: waits for another process's recovery or exclusive checkpoint.
READER_BUSY_TIMEOUT_MS = 100


def _value(value: Any) -> Any:
    # The storage format of SQLAlchemy's Uuid and DateTime types on SQLite.
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, list):
        return json.dumps(value)
    return value


def _args(statement: Statement, params: dict[str, Any]) -> list[Any]:
    return [_value(value) for value in statement.args(params)]


def _connect(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    return connection


class SqliteDatabase:
    def __init__(self, path: str) -> None:
        self._path = path
        self.statements: Statements = build("sqlite")
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._writer: sqlite3.Connection | None = None  # made and used in that thread only
        self._reader = _connect(path, READER_BUSY_TIMEOUT_MS)
        self._reader.execute("PRAGMA query_only=ON")

    @classmethod
    def open(cls, path: str) -> SqliteDatabase:
        if path in ("", ":memory:"):
            raise ValueError("DATABASE_URL: SQLite needs a file (readers and the writer share it)")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def _writer_connection(self) -> sqlite3.Connection:
        if self._writer is None:
            writer = _connect(self._path, BUSY_TIMEOUT_MS)
            # WAL: readers work during a write, and two processes can share the file.
            writer.execute("PRAGMA journal_mode=WAL")
            writer.execute("PRAGMA synchronous=NORMAL")
            writer.execute("PRAGMA foreign_keys=ON")
            self._writer = writer
        return self._writer

    async def fetch(self, statement: Statement, params: dict[str, Any]) -> list[Row]:
        try:
            return self._reader.execute(statement.sql, _args(statement, params)).fetchall()
        except sqlite3.OperationalError as exc:
            raise DatabaseUnavailable(str(exc)) from exc

    def _run_transaction(
        self, statements: Sequence[Statement], params: dict[str, Any]
    ) -> list[list[Row]]:
        writer = self._writer_connection()
        writer.execute("BEGIN IMMEDIATE")
        try:
            results = [
                writer.execute(statement.sql, _args(statement, params)).fetchall()
                for statement in statements
            ]
            writer.execute("COMMIT")
        except BaseException:
            if writer.in_transaction:
                writer.execute("ROLLBACK")
            raise
        return results

    async def write(
        self, statements: Sequence[Statement], params: dict[str, Any]
    ) -> list[list[Row]]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._writer_thread, self._run_transaction, statements, params
            )
        except sqlite3.OperationalError as exc:
            raise DatabaseUnavailable(str(exc)) from exc

    def todo(self, row: Row) -> dict[str, Any]:
        todo_id, text, done, created_at, updated_at, version = row[:6]
        return {
            "id": self.uuid(todo_id),
            "text": text,
            "done": bool(done),
            "created_at": datetime.fromisoformat(created_at + "+00:00"),
            "updated_at": datetime.fromisoformat(updated_at + "+00:00"),
            "version": version,
        }

    def uuid(self, value: Any) -> str:
        # 32 hex digits to the canonical text form, without a uuid.UUID per row
        h = value
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    async def is_reachable(self) -> bool:
        try:
            self._reader.execute("SELECT 1 FROM users LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    async def aclose(self) -> None:
        def close_writer() -> None:
            if self._writer is not None:
                self._writer.close()

        await asyncio.get_running_loop().run_in_executor(self._writer_thread, close_writer)
        self._writer_thread.shutdown()
        self._reader.close()
