"""SQLite, the embedded default: one writer connection, everything on the event loop.

Writers on one SQLite file queue on its lock, and a writer that waits polls with
sleeps: with a pool of writer connections, a write at 32 concurrent requests waited up
to seconds (bench/README.md). Here the process writes through one connection. The writes
requested in one round of the event loop are committed together at its end, in one
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) that runs from start to end without
yielding to the event loop, so the process's writes never contend with each other, with
no lock and no thread. Committing them together writes the COMMIT, the owner's row and
the index pages once for all of them: the COMMIT alone cost about a third of a write's
time in the database. A write that fails there (a constraint) is then retried on its
own, so that only it fails; each caller is answered, in order, after the commit. A
writer thread on the worker's core competes with the loop for the GIL, which lengthened
the tail (bench/README.md, data path). Checkpoints stay SQLite's automatic ones, on the
writer: moving them to a thread of their own did not shorten the tail either. Only
another process can hold the file lock: then the commit does not block the loop waiting
for it (``busy_timeout`` 0) but is retried a little later, for up to
``DB_BUSY_TIMEOUT_SECONDS``, then the writes answer 503.

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
from dataclasses import dataclass
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


@dataclass(slots=True)
class _Pending:
    """A write waiting for the next commit, and where its rows go."""

    statements: Sequence[Statement]
    params: Params
    done: asyncio.Future[list[list[Row]]]


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
        #: Writes waiting for the next commit, and that commit's callback.
        self._pending: list[_Pending] = []
        self._flush: asyncio.Handle | None = None

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

    def _transaction(self, writes: Sequence[_Pending]) -> list[list[list[Row]]]:
        writer = self._writer
        writer.execute("BEGIN IMMEDIATE")
        try:
            results = [
                [
                    writer.execute(statement.sql, _args(statement, write.params)).fetchall()
                    for statement in write.statements
                ]
                for write in writes
            ]
            writer.execute("COMMIT")
        except BaseException:
            if writer.in_transaction:
                writer.execute("ROLLBACK")
            raise
        return results

    async def write(self, statements: Sequence[Statement], params: Params) -> list[list[Row]]:
        loop = asyncio.get_running_loop()
        write = _Pending(statements, params, loop.create_future())
        self._pending.append(write)
        if self._flush is None:
            self._flush = loop.call_soon(self._commit, loop.time() + self._busy_timeout, 0.001)
        try:
            return await write.done
        except asyncio.CancelledError:
            if not write.done.done() or write.done.cancelled() or write.done.exception():
                raise
            # Committed before the caller was cancelled: its caller still publishes the
            # write's event, as it did when the write ran inline (a seq without its event
            # would be a gap every client sees). The cancellation is not lost for long:
            # the request ends as soon as the event is out.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            return write.done.result()

    def _commit(self, deadline: float, pause: float) -> None:
        """Commit every write queued since the last commit, in one transaction: the
        COMMIT, and the pages every write touches (the owner's row, the index leaves),
        are written once for all of them."""
        self._flush = None
        writes = [write for write in self._pending if not write.done.done()]
        self._pending = []
        if not writes:
            return
        try:
            results = self._transaction(writes)
        except sqlite3.OperationalError as exc:
            loop = asyncio.get_running_loop()
            if exc.sqlite_errorcode in _BUSY and loop.time() <= deadline:
                # Another process holds the write lock; nothing of ours was committed.
                # The writes queued meanwhile follow these, in order.
                self._pending[:0] = writes
                self._flush = loop.call_later(pause, self._commit, deadline, min(2 * pause, 0.05))
                return
            for write in writes:
                write.done.set_exception(DatabaseUnavailable(str(exc)))
            return
        except Exception:
            # One write failed (a constraint, say): each on its own, so that only it fails.
            for write in writes:
                try:
                    [result] = self._transaction((write,))
                except sqlite3.OperationalError as exc:
                    write.done.set_exception(DatabaseUnavailable(str(exc)))
                except Exception as exc:
                    write.done.set_exception(exc)
                else:
                    write.done.set_result(result)
            return
        # In order: each caller publishes its event when woken, so events leave in seq order.
        for write, result in zip(writes, results, strict=True):
            write.done.set_result(result)

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
        if self._flush is not None:
            self._flush.cancel()
        for write in self._pending:
            if not write.done.done():
                write.done.set_exception(DatabaseUnavailable("the database is closing"))
        self._writer.close()
        self._reader.close()
