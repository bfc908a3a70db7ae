"""The database's operational limits come from settings (``DB_*``) and take effect."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from app.data.database import ConnectionLimits, DatabaseUnavailable
from app.data.migrations import upgrade_to_head
from app.services import open_database
from tests.services import PostgresServer


@pytest.mark.pg
async def test_the_pool_size_is_the_most_connections_opened(postgres: PostgresServer) -> None:
    url = postgres.create_database(f"todo_{uuid.uuid4().hex[:12]}")
    upgrade_to_head(url)
    database = await open_database(url, ConnectionLimits(pool_size=3))
    try:
        assert database.connections() == (0, 3)
    finally:
        await database.aclose()


async def test_a_sqlite_write_waits_for_another_writer_only_as_long_as_allowed(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'todo.db'}"
    upgrade_to_head(url)
    database = await open_database(url, ConnectionLimits(busy_timeout_seconds=0.2))
    other = sqlite3.connect(tmp_path / "todo.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write lock, held throughout
    try:
        statements = database.statements
        write = database.write((statements.current_seq,), {"owner_id": "nobody"})
        # Given up well before the default's five seconds, the lock still held.
        with pytest.raises(DatabaseUnavailable, match="locked"):
            await asyncio.wait_for(write, timeout=3)
    finally:
        other.execute("ROLLBACK")
        other.close()
        await database.aclose()
