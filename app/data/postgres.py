"""PostgreSQL through asyncpg's pool.

asyncpg, not psycopg 3, because it is the faster driver here: the hand-written floor
costs less CPU per request with asyncpg on the same queries (bench/README.md, section
6). Statements are prepared once per connection (asyncpg's statement cache). A read
borrows a connection for its one statement, without BEGIN; a write is one statement too
(``app.statements.Write``); both give the connection back before the handler returns.

A connection the server dropped (restart, failover, ``pg_terminate_backend``) is
noticed by asyncpg when the socket closes and replaced at the next acquire; a
statement in flight on it fails with ``DatabaseUnavailable`` (503).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Literal, cast

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.data.database import ConnectionLimits, DatabaseUnavailable
from app.data.owned import OwnedResource, OwnedRow
from app.data.statements import Params, Row, RowReader, Statement, Statements, build

#: What a lost or unreachable server raises: connection exceptions (SQLSTATE class 08),
#: operator intervention (57: admin shutdown, crash, cannot connect now, canceled),
#: too many connections (53300), a closed socket, and timeouts.
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    # a connection left mid-protocol by a server that went away
    asyncpg.exceptions.InternalClientError,
)


async def _init_connection(connection: asyncpg.Connection) -> None:
    # UUIDs as their text form both ways: the API sends them as text, and asyncpg's own
    # UUID class is not one that JSON encoders know.
    await connection.set_type_codec(
        "uuid", encoder=str, decoder=str, schema="pg_catalog", format="text"
    )


async def _keep_session(connection: asyncpg.Connection) -> None:
    # asyncpg resets a connection on release with a round trip (RESET ALL, UNLISTEN, ...)
    # undoing session state this application never sets: no SET, LISTEN, cursors or
    # advisory locks on pooled connections. It still rolls back an open transaction.
    return None


def read_rows(columns: Sequence[sa.Column[Any]]) -> RowReader:
    """The reader of rows of ``columns``: asyncpg returns every supported kind as the API
    shows it (UUIDs as text through ``_init_connection``, ``timestamptz`` as aware
    datetimes), so a row is its columns by name."""
    names = tuple(column.name for column in columns)

    def read(row: Row) -> OwnedRow:
        return cast(OwnedRow, dict(zip(names, row, strict=False)))

    return read


def asyncpg_dsn(url: str) -> str:
    """``postgresql+psycopg://u:p@h/db`` -> ``postgresql://u:p@h/db``."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresDatabase:
    dialect: Literal["postgresql"] = "postgresql"

    def __init__(
        self,
        pool: asyncpg.Pool,
        resources: Sequence[OwnedResource],
        *,
        acquire_timeout_seconds: float,
    ) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout_seconds
        self.statements: Statements = build("postgresql", resources, read_rows)

    @classmethod
    async def open(
        cls, url: str, resources: Sequence[OwnedResource], limits: ConnectionLimits
    ) -> PostgresDatabase:
        # min_size=0: the application starts while the database is down (readiness
        # says so); connections are made on first use.
        pool = await asyncpg.create_pool(
            asyncpg_dsn(url),
            min_size=0,
            max_size=limits.pool_size,
            init=_init_connection,
            reset=_keep_session,
            timeout=limits.connect_timeout_seconds,
            # Enforced by the server: a client-side timeout would arm a timer per query.
            server_settings={
                "statement_timeout": str(int(limits.statement_timeout_seconds * 1000))
            },
        )
        return cls(pool, resources, acquire_timeout_seconds=limits.acquire_timeout_seconds)

    async def fetch(self, statement: Statement, params: Params) -> list[Row]:
        return (await self._run((statement,), params))[0]

    async def write(self, statements: Sequence[Statement], params: Params) -> list[list[Row]]:
        return await self._run(statements, params)

    async def _run(self, statements: Sequence[Statement], params: Params) -> list[list[Row]]:
        try:
            # asyncio.timeout, not acquire(timeout=): on Python 3.11 asyncpg implements
            # that with wait_for, a new task for every acquire.
            async with asyncio.timeout(self._acquire_timeout):
                connection = await self._pool.acquire()
            try:
                if len(statements) == 1:  # one statement is atomic on its own
                    first = statements[0]
                    return [await connection.fetch(first.sql, *first.args(params))]
                async with connection.transaction():
                    return [
                        await connection.fetch(statement.sql, *statement.args(params))
                        for statement in statements
                    ]
            except _UNAVAILABLE:
                # The server may have closed the socket before asyncpg noticed: drop
                # the connection rather than give it back to the pool (unless the
                # pool has taken it back already, having seen it close).
                with contextlib.suppress(asyncpg.InterfaceError):
                    connection.terminate()
                raise
            finally:
                await self._pool.release(connection)
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(exc.__class__.__name__) from exc

    def uuid(self, value: Any) -> str:
        return str(value)

    def connections(self) -> tuple[int, int]:
        return self._pool.get_size() - self._pool.get_idle_size(), self._pool.get_max_size()

    async def is_reachable(self) -> bool:
        try:
            async with self._pool.acquire(timeout=2) as connection:
                await connection.fetchval("SELECT 1", timeout=2)
        except Exception:  # any failure means "not ready"; readiness reports, never raises
            return False
        return True

    async def aclose(self) -> None:
        await self._pool.close()
