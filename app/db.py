"""Database engine and sessions: SQLite by default, PostgreSQL with the same code.

The application talks to the database asynchronously (aiosqlite, psycopg 3 async);
Alembic uses the synchronous twin of the same URL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 5_000


def _with_driver(url: str, *, sqlite: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername=sqlite)
    elif parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3: sync and async
    return parsed.render_as_string(hide_password=False)


def async_database_url(url: str) -> str:
    """``sqlite:///x`` -> ``sqlite+aiosqlite:///x``; ``postgresql://`` -> psycopg 3."""
    return _with_driver(url, sqlite="sqlite+aiosqlite")


def sync_database_url(url: str) -> str:
    """The URL Alembic connects with (synchronous drivers)."""
    return _with_driver(url, sqlite="sqlite")


def _configure_sqlite(dbapi_connection: Any, _: Any) -> None:
    # WAL lets readers work during a write and lets two processes share the file;
    # the busy timeout waits for a lock instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    async_url = async_database_url(url)
    if make_url(async_url).get_backend_name() == "sqlite":
        engine = create_async_engine(
            async_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    # No pre-ping (a round trip before every request): when the server went away, the
    # first statement on a dead connection fails, that request gets 503, and SQLAlchemy
    # invalidates the whole pool, so the next requests get fresh connections.
    return create_async_engine(
        async_url,
        pool_recycle=1800,
        pool_size=10,
        max_overflow=10,
        pool_timeout=5,
        connect_args={"connect_timeout": 5},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def database_is_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not ready"; readiness reports, never raises
        return False
    return True
