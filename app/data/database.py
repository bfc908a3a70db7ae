"""The database as the application uses it: prebuilt statements run on the driver.

SQLite (the default; ``app.data.sqlite``) or PostgreSQL (``app.data.postgres``, asyncpg),
behind one small interface:

* ``fetch`` runs one read without a transaction around it, and gives its connection
  back before returning, so no read holds a connection or a transaction once its
  handler is done;
* ``write`` runs a fixed sequence of statements in one transaction: on PostgreSQL
  usually one statement (``app.data.statements.Write``), so one round trip and no BEGIN
  or COMMIT; on SQLite on its one writer connection, from BEGIN to COMMIT without
  yielding to the event loop.

Each backend compiles the statements of the owned resources it is opened with
(``app.data.resources``) and reads their rows its way (``statements.of(r).read``).

Driver errors that mean "the database is not there" become ``DatabaseUnavailable``
(503, retry); any other error is a bug and stays what it is. Alembic keeps its
synchronous SQLAlchemy engine (``sync_database_url``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy.engine import make_url

from app.data.statements import Params, Row, Statement, Statements


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long the database may keep a request waiting, and how many connections it
    may hold (the ``DB_*`` settings)."""

    #: PostgreSQL: connections in the pool, at most.
    pool_size: int = 20
    #: PostgreSQL: waiting for a free connection, and opening a new one.
    acquire_timeout_seconds: float = 5.0
    connect_timeout_seconds: float = 5.0
    #: PostgreSQL, enforced by the server: the longest one statement may run.
    statement_timeout_seconds: float = 30.0
    #: SQLite: waiting for another process's write lock.
    busy_timeout_seconds: float = 5.0


class DatabaseUnavailable(Exception):
    """The database cannot be reached or is shutting down: retryable, nothing was done
    (a write is acknowledged only after its commit)."""


class Database(Protocol):
    @property
    def dialect(self) -> Literal["sqlite", "postgresql"]: ...

    @property
    def statements(self) -> Statements: ...

    async def fetch(self, statement: Statement, params: Params) -> list[Row]:
        """Rows of one read.

        Raises:
            DatabaseUnavailable: no connection, or it was lost.
        """
        ...

    async def write(self, statements: Sequence[Statement], params: Params) -> list[list[Row]]:
        """Run ``statements`` in one transaction, all with ``params``; the rows of each.

        Raises:
            DatabaseUnavailable: no connection, or it was lost (nothing committed).
        """
        ...

    def uuid(self, value: Any) -> str:
        """A UUID column's value in its canonical text form."""
        ...

    def connections(self) -> tuple[int, int]:
        """(in use, at most): the connections a request may hold (for metrics)."""
        ...

    async def is_reachable(self) -> bool: ...
    async def aclose(self) -> None: ...


def backend(url: str) -> str:
    """``sqlite`` or ``postgresql``."""
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise ValueError(f"DATABASE_URL: unsupported database {name!r} (sqlite or postgresql)")
    return name


def sync_database_url(url: str) -> str:
    """The URL Alembic connects with (synchronous drivers: sqlite3, psycopg 3)."""
    parsed = make_url(url)
    driver = "sqlite" if backend(url) == "sqlite" else "postgresql+psycopg"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)
