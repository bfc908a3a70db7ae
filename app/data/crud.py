"""Every read and write of the application's data; the only module that writes.

``OwnerTodos`` is one user's todos: its owner is fixed when it is made, so no query can
forget whose data it touches, and a todo of another user is simply not found. Each write
bumps the owner's live-event ``seq`` in its own transaction (``app.statements.Write``)
and publishes the event itself, after the commit, so a new write cannot skip live
updates. Rows become the API's JSON without ORM or pydantic objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from uuid6 import uuid7

from app.data.database import Database
from app.data.models import AdminStats, utcnow
from app.data.statements import Write
from app.events.broker import EventBroker, EventType, LiveEvent


class StaleVersion(Exception):
    """The row exists, at a version other than those the caller accepts to overwrite
    (``If-Match``); nothing was changed. The HTTP layer answers 412."""


def _list(versions: Collection[int] | None) -> list[int] | None:
    return None if versions is None else list(versions)


def _display(value: str | None, limit: int) -> str | None:
    # Name and email come from the token and are only displayed: drop what PostgreSQL
    # cannot store (NUL) and what the column cannot hold rather than fail the request.
    return None if value is None else value.replace("\x00", "")[:limit] or None


async def ensure_user(
    database: Database, *, issuer: str, subject: str, name: str | None, email: str | None
) -> uuid.UUID:
    """The id of the user row for (issuer, subject), created on first sight and
    refreshed when the token's name or email changed (one upsert; two requests that
    create the same user at once get the same row)."""
    s, key = database.statements, {"issuer": issuer, "subject": subject}
    params: dict[str, Any] = {**key, "user_id": uuid7(), "now": utcnow()}
    params |= {"name": _display(name, 255), "email": _display(email, 320)}
    [written] = await database.write((s.upsert_user,), params)
    # Nothing written: the row exists and is up to date.
    rows = written or await database.fetch(s.find_user, key)
    return uuid.UUID(database.uuid(rows[0][0]))


class OwnerTodos:
    """The todos of one user, and the live events of their changes."""

    def __init__(self, database: Database, broker: EventBroker, owner_id: uuid.UUID) -> None:
        self._db, self._broker, self.owner_id = database, broker, owner_id
        self._s = database.statements

    async def page(
        self, *, limit: int, before: uuid.UUID | None = None, done: bool | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the owner's todos, newest first, and the id to continue before."""
        statement = self._s.list_todos[(done is not None, before is not None)]
        params = {"owner_id": self.owner_id, "limit": limit + 1, "done": done, "before": before}
        rows = await self._db.fetch(statement, params)
        todos = [self._db.todo(row) for row in rows[:limit]]
        return todos, todos[-1]["id"] if len(rows) > limit else None

    async def get(self, todo_id: uuid.UUID) -> dict[str, Any] | None:
        rows = await self._db.fetch(self._s.get_todo, self._key(todo_id))
        return self._db.todo(rows[0]) if rows else None

    async def create(self, text: str) -> dict[str, Any]:
        now = utcnow()
        todo = {"id": uuid7(), "text": text, "done": False, "created_at": now}
        todo |= {"updated_at": now, "version": 1}
        params = {"todo_id": todo["id"], "owner_id": self.owner_id, "text": text, "now": now}
        written = await self._write(self._s.create_todo, params)
        if written is None:  # the foreign key makes the insert fail first
            raise LookupError(f"no user {self.owner_id}")
        seq = written[1]
        todo["id"] = str(todo["id"])
        await self._publish("todo.created", todo, seq)
        return todo

    async def update(
        self, todo_id: uuid.UUID, changes: dict[str, Any], if_match: Collection[int] | None
    ) -> dict[str, Any] | None:
        """Apply ``changes``; None when the owner has no such todo.

        ``if_match`` holds the versions the client accepts to overwrite (None: any). The
        version check and the write are one statement, so two writers cannot both win.

        Raises:
            StaleVersion: the todo exists at another version; nothing was changed.
        """
        fields = tuple(field for field in ("text", "done") if field in changes)
        write = self._s.update_todo[(fields, if_match is not None)]
        params = {**self._key(todo_id), **changes, "now": utcnow(), "versions": _list(if_match)}
        written = await self._write(write, params)
        if written is None:
            await self._refused(todo_id, if_match)
            return None
        todo = self._db.todo(written[0])
        await self._publish("todo.updated", todo, written[1])
        return todo

    async def delete(self, todo_id: uuid.UUID, if_match: Collection[int] | None) -> bool:
        """Delete the todo; False when the owner has no such todo.

        Raises:
            StaleVersion: the todo exists at another version; nothing was deleted.
        """
        write = self._s.delete_todo[if_match is not None]
        params = {**self._key(todo_id), "versions": _list(if_match)}
        written = await self._write(write, params)
        if written is None:
            await self._refused(todo_id, if_match)
            return False
        await self._publish("todo.deleted", {"id": str(todo_id)}, written[1])
        return True

    async def _write(self, write: Write, params: dict[str, Any]) -> tuple[Any, int] | None:
        return write.outcome(await self._db.write(write.statements, params))

    async def _refused(self, todo_id: uuid.UUID, if_match: Collection[int] | None) -> None:
        """Nothing matched: a 404, unless If-Match was given and the todo exists at
        another version (412).

        Raises:
            StaleVersion: the todo exists; nothing was changed.
        """
        if if_match is not None and await self._db.fetch(self._s.todo_version, self._key(todo_id)):
            raise StaleVersion

    def _key(self, todo_id: uuid.UUID) -> dict[str, Any]:
        return {"todo_id": todo_id, "owner_id": self.owner_id}

    async def _publish(self, kind: EventType, todo: dict[str, Any], seq: int) -> None:
        await self._broker.publish(LiveEvent(user_id=self.owner_id, type=kind, todo=todo, seq=seq))


async def admin_stats(database: Database) -> AdminStats:
    [(users, todos, done)] = await database.fetch(database.statements.admin_counts, {})
    return AdminStats(users=users, todos=todos, todos_done=done)


async def current_seq(database: Database, *, owner_id: uuid.UUID) -> int:
    """The owner's last live-event sequence number."""
    rows = await database.fetch(database.statements.current_seq, {"owner_id": owner_id})
    return int(rows[0][0]) if rows else 0
