"""SQLite, the embedded default: one writer connection, everything on the event loop.

Writers on one SQLite file queue on its lock, and a writer that waits polls with
sleeps: with a pool of writer connections, a write at 32 concurrent requests waited up
to seconds (bench/README.md). Here the process writes through one connection, and each
write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) runs from start to end without
yielding to the event loop, so the process's writes never contend with each other: they
take turns in the loop, with no lock and no thread. A write transaction costs less
than a hop to a writer thread and back, and a writer thread on the worker's core
competes with the loop for the GIL, which lengthened the tail (bench/README.md, data
path). Checkpoints stay SQLite's automatic ones, on the writer: moving them to a thread
of their own did not shorten the tail either. Only another process can hold the file
lock: then the write does not block the loop waiting for it (``busy_timeout`` 0) but
retries after ``asyncio.sleep``, for up to ``DB_BUSY_TIMEOUT_SECONDS``, then answers 503.

Reads run on a second connection, in autocommit mode: in WAL mode a reader never waits
for a writer, and a 20-row indexed read costs less than a thread hop. Each read ends
its implicit transaction when its rows are fetched. Values are stored as SQLAlchemy
stores them on SQLite (UUIDs as 32 hex digits, naive UTC datetimes as text), so Alembic
and this module agree on the file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, cast

import sqlalchemy as sa

from app.data.database import DatabaseUnavailable
from app.data.owned import ColumnKind, OwnedResource, kind_of
from app.data.statements import Params, Row, RowReader, Statement, Statements, build

#: A reader blocks the event loop while it waits, so it waits little: in WAL mode it only
#: waits for another process's recovery or exclusive checkpoint.
READER_BUSY_TIMEOUT_MS = 100
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def _value(value: object) -> object:
    # The storage format of SQLAlchemy's Uuid, DateTime and Date types on SQLite.
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return json.dumps(value)
    return value


def _args(statement: Statement, params: Params) -> list[object]:
    return [_value(value) for value in statement.args(params)]


def canonical_uuid(value: str) -> str:
    """32 hex digits to the canonical text form, without a uuid.UUID per row."""
    h = value
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value + "+00:00")


#: From SQLAlchemy's storage format on SQLite to the API's values, by kind (None: as stored).
_FROM_STORAGE: dict[ColumnKind, Callable[[Any], object] | None] = {
    "uuid": canonical_uuid,
    "datetime": _utc,
    "date": date.fromisoformat,
    "bool": bool,
    "int": None,
    "float": None,
    "str": None,
}


def _nullable(convert: Callable[[Any], object]) -> Callable[[Any], object]:
    return lambda value: None if value is None else convert(value)


def read_rows(columns: Sequence[sa.Column[Any]]) -> RowReader:
    """The reader of rows of ``columns``: each value as the API shows it, converted where
    SQLite stores it in another form.

    Its source is generated, one item per column, as ``dataclasses`` and ``namedtuple``
    generate theirs: a loop over the columns costs half as much again per row (0.85 µs
    against 1.3 for a todo, twenty of them per list), and a list is what clients repeat.
    Only column names (identifiers, written with ``repr``) and this module's converters
    go into it.
    """
    namespace: dict[str, Any] = {}
    values, items = [], []
    for i, column in enumerate(columns):
        value = f"v{i}"
        convert = _FROM_STORAGE[kind_of(column)]
        if convert is not None:
            namespace[f"c{i}"] = _nullable(convert) if column.nullable else convert
            value = f"c{i}({value})"
        values.append(f"v{i}")
        items.append(f"{column.name!r}: {value}")
    source = f"def read(row):\n    {', '.join(values)}, = row\n    return {{{', '.join(items)}}}\n"
    exec(source, namespace)  # noqa: S102
    return cast(RowReader, namespace["read"])


def _connect(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    # Autocommit (isolation_level=None): transactions are begun explicitly.
    connection = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    return connection


class SqliteDatabase:
    dialect: Literal["sqlite"] = "sqlite"

    def __init__(
        self, path: str, resources: Sequence[OwnedResource], *, busy_timeout_seconds: float = 5.0
    ) -> None:
        #: How long a write waits for another process's write lock, in short sleeps.
        self._busy_timeout = busy_timeout_seconds
        self.statements: Statements = build("sqlite", resources, read_rows)
        self._writer = _connect(path, busy_timeout_ms=0)
        # WAL: readers work during a write, and two processes can share the file.
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA synchronous=NORMAL")
        self._writer.execute("PRAGMA foreign_keys=ON")
        self._reader = _connect(path, READER_BUSY_TIMEOUT_MS)
        self._reader.execute("PRAGMA query_only=ON")

    @classmethod
    def open(
        cls, path: str, resources: Sequence[OwnedResource], *, busy_timeout_seconds: float = 5.0
    ) -> SqliteDatabase:
        if path in ("", ":memory:"):
            raise ValueError("DATABASE_URL: SQLite needs a file (readers and the writer share it)")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return cls(path, resources, busy_timeout_seconds=busy_timeout_seconds)

    async def fetch(self, statement: Statement, params: Params) -> list[Row]:
        try:
            return self._reader.execute(statement.sql, _args(statement, params)).fetchall()
        except sqlite3.OperationalError as exc:
            raise DatabaseUnavailable(str(exc)) from exc

    def _transaction(self, statements: Sequence[Statement], params: Params) -> list[list[Row]]:
        writer = self._writer
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

    async def write(self, statements: Sequence[Statement], params: Params) -> list[list[Row]]:
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + self._busy_timeout, 0.001
        while True:
            try:
                return self._transaction(statements, params)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode not in _BUSY or loop.time() > deadline:
                    raise DatabaseUnavailable(str(exc)) from exc
            # Another process holds the write lock; nothing of ours was committed.
            await asyncio.sleep(pause)
            pause = min(2 * pause, 0.05)

    def uuid(self, value: Any) -> str:
        return canonical_uuid(value)

    def connections(self) -> tuple[int, int]:
        # The reader and the writer are each used without an await in between: between
        # two statements of the event loop (when metrics are read), neither is in use.
        return int(self._writer.in_transaction), 2

    async def is_reachable(self) -> bool:
        try:
            self._reader.execute("SELECT 1 FROM users LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    async def aclose(self) -> None:
        self._writer.close()
        self._reader.close()
