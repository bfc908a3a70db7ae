"""The write path on both backends: each write publishes its live event after its commit,
with the owner's ``seq`` bumped in the same transaction, once per write;
a refused write publishes nothing. Driven through ``OwnerRows`` itself, as any new
route would, so a write cannot reach the database without its event."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from app.data import crud
from app.data.crud import OwnerRows
from app.data.database import Database
from app.data.migrations import upgrade_to_head
from app.data.todos import TODOS
from app.events.broker import MemoryBroker
from app.services import open_database
from tests.app.writes import new_owner, received


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    upgrade_to_head(database_url)
    opened = await open_database(database_url)
    try:
        yield opened
    finally:
        await opened.aclose()


async def test_concurrent_writes_publish_every_seq_once(database: Database) -> None:
    broker = MemoryBroker(max_queued=1000)
    owner = await new_owner(database)
    mine = OwnerRows(database, broker, owner, TODOS)
    async with broker.subscribe(owner) as subscription:
        created = await asyncio.gather(*(mine.create({"text": f"todo {n}"}) for n in range(40)))
        await asyncio.gather(
            *(mine.update(uuid.UUID(t["id"]), {"done": True}, None) for t in created)
        )
        await asyncio.gather(*(mine.delete(uuid.UUID(t["id"]), None) for t in created[:10]))
        events = received(subscription)
    # Every seq once, none missing. (Order: SQLite answers its writes in commit order, so its
    # events leave in seq order; two PostgreSQL commits of one user can be acknowledged
    # in either order, and a client that sees a gap resynchronises.)
    assert sorted(e["seq"] for e in events) == list(range(1, 91))
    kinds = [e["type"] for e in events]
    assert kinds.count("todo.created") == 40
    assert kinds.count("todo.updated") == 40
    assert kinds.count("todo.deleted") == 10
    assert await crud.current_seq(database, owner_id=owner) == 90


async def test_a_refused_write_publishes_nothing_and_keeps_seq(database: Database) -> None:
    broker = MemoryBroker()
    owner, other = await new_owner(database), await new_owner(database, "someone-else")
    mine = OwnerRows(database, broker, owner, TODOS)
    theirs = OwnerRows(database, broker, other, TODOS)
    todo = await mine.create({"text": "mine"})
    todo_id = uuid.UUID(todo["id"])
    async with broker.subscribe(owner) as subscription:
        with pytest.raises(crud.StaleVersion):
            await mine.update(todo_id, {"text": "stale"}, [todo["version"] + 1])
        with pytest.raises(crud.StaleVersion):
            await mine.delete(todo_id, [7])
        assert await theirs.update(todo_id, {"done": True}, None) is None
        assert await theirs.delete(todo_id, None) is False
        assert await mine.update(uuid.uuid4(), {"done": True}, [1]) is None
        assert received(subscription) == []
    assert await crud.current_seq(database, owner_id=owner) == 1
    assert await mine.get(todo_id) == todo


async def test_rows_read_back_as_they_were_written(database: Database) -> None:
    mine = OwnerRows(database, MemoryBroker(), await new_owner(database), TODOS)
    created = await mine.create({"text": "ünïcode ✓"})
    todo_id = uuid.UUID(created["id"])
    assert await mine.get(todo_id) == created
    updated: Mapping[str, Any] | None = await mine.update(
        todo_id, {"text": "changed", "done": True}, [1]
    )
    assert updated is not None
    assert (updated["text"], updated["done"], updated["version"]) == ("changed", True, 2)
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] >= created["updated_at"]
    page, next_before = await mine.page(limit=1)
    assert (page, next_before) == ([updated], None)


def test_sqlite_writes_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'todo.db'}"
    upgrade_to_head(url)

    async def write_a_todo_of_no_user() -> None:
        database = await open_database(url)
        try:
            # No user: the insert must fail on the foreign key (and bump nothing).
            orphans = OwnerRows(database, MemoryBroker(), uuid.uuid4(), TODOS)
            await orphans.create({"text": "orphan"})
        finally:
            await database.aclose()

    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        asyncio.run(write_a_todo_of_no_user())
    # closing(): sqlite3's own context manager ends the transaction, not the connection.
    with contextlib.closing(sqlite3.connect(tmp_path / "todo.db")) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_sqlite_write_waits_for_another_writer_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "todo.db"
    upgrade_to_head(f"sqlite:///{path}")
    database = await open_database(f"sqlite:///{path}")
    try:
        mine = OwnerRows(database, MemoryBroker(), await new_owner(database), TODOS)
        # Another process's write transaction holds the file's write lock.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.create_task(mine.create({"text": "after the other writer"}))
        await asyncio.sleep(0.1)
        assert not write.done()
        assert await mine.page(limit=5) == ([], None)  # reads go on meanwhile
        other.execute("COMMIT")
        other.close()
        created = await asyncio.wait_for(write, 2)
        assert await mine.page(limit=5) == ([created], None)
    finally:
        await database.aclose()


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'todo.db'}"
    upgrade_to_head(url)
    opened = await open_database(url)
    try:
        yield opened
    finally:
        await opened.aclose()


async def test_a_failing_sqlite_write_fails_alone_among_those_committed_with_it(
    sqlite_database: Database,
) -> None:
    broker = MemoryBroker(max_queued=100)
    owner = await new_owner(sqlite_database)
    mine = OwnerRows(sqlite_database, broker, owner, TODOS)
    orphans = OwnerRows(sqlite_database, MemoryBroker(), uuid.uuid4(), TODOS)
    async with broker.subscribe(owner) as subscription:
        # Requested in one round of the loop: committed together, but for the orphan.
        outcomes = await asyncio.gather(
            mine.create({"text": "first"}),
            orphans.create({"text": "orphan"}),
            mine.create({"text": "second"}),
            return_exceptions=True,
        )
        events = received(subscription)
    first, refused, second = outcomes
    assert isinstance(refused, sqlite3.IntegrityError)
    assert [e["seq"] for e in events] == [1, 2]  # in seq order, one per committed write
    assert [e["todo"]["id"] for e in events] == [first["id"], second["id"]]  # type: ignore[index]
    rows, _ = await mine.page(limit=5)
    assert [row["id"] for row in rows] == [second["id"], first["id"]]  # type: ignore[index]
    assert await crud.current_seq(sqlite_database, owner_id=owner) == 2


async def test_a_sqlite_write_cancelled_before_its_commit_writes_nothing(
    sqlite_database: Database,
) -> None:
    owner = await new_owner(sqlite_database)
    mine = OwnerRows(sqlite_database, MemoryBroker(), owner, TODOS)
    cancelled = asyncio.create_task(mine.create({"text": "never"}))
    await asyncio.sleep(0)  # queued for the commit at the end of this round
    cancelled.cancel()
    kept = await mine.create({"text": "kept"})
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await mine.page(limit=5) == ([kept], None)
    assert await crud.current_seq(sqlite_database, owner_id=owner) == 1


async def test_a_sqlite_write_cancelled_after_its_commit_still_publishes(
    sqlite_database: Database,
) -> None:
    broker = MemoryBroker(max_queued=100)
    owner = await new_owner(sqlite_database)
    mine = OwnerRows(sqlite_database, broker, owner, TODOS)
    async with broker.subscribe(owner) as subscription:
        write = asyncio.create_task(mine.create({"text": "committed"}))
        await asyncio.sleep(0)  # the write is queued
        await asyncio.sleep(0)  # the commit ran and answered it; the caller is not yet back
        write.cancel()
        created = await write
        events = received(subscription)
    assert [e["seq"] for e in events] == [1]
    assert events[0]["todo"]["id"] == created["id"]
