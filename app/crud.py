"""Every read and write of the application's data; the only module that writes.

``OwnerTodos`` is one user's todos: its owner is fixed when it is made, so no query can
forget whose data it touches, and a todo of another user is simply not found. Each write
is a script (``app.db``) that bumps the owner's live-event ``seq`` in its own
transaction; the write publishes the event itself, after the commit, so a new write
cannot skip live updates. Rows become the API's JSON without ORM or pydantic objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from uuid6 import uuid7

from app.db import Database, Script
from app.errors import PreconditionFailed
from app.events import EventBroker, EventType, LiveEvent
from app.models import AdminStats, utcnow
from app.statements import Statements

#: ``(todo row, seq)`` of a write that changed something.
Written = tuple[Any, int]


def _display(value: str | None, limit: int) -> str | None:
    # Name and email come from the token and are only displayed: drop what PostgreSQL
    # cannot store (NUL) and what the column cannot hold rather than fail the request.
    return None if value is None else value.replace("\x00", "")[:limit] or None


def _ensure_user(
    s: Statements, issuer: str, subject: str, name: str | None, email: str | None
) -> Script[Any]:
    key = {"issuer": issuer, "subject": subject}
    found = yield s.find_user, key
    if not found:
        # Another request may create it first: then nothing is inserted and the
        # second look finds theirs.
        new = {**key, "user_id": uuid7(), "name": name, "email": email, "now": utcnow()}
        yield s.insert_user, new
        found = yield s.find_user, key
        return found[0][0]
    user_id, known_name, known_email = found[0]
    if (known_name, known_email) != (name, email):
        yield s.update_user, {"user_id": user_id, "name": name, "email": email, "now": utcnow()}
    return user_id


async def ensure_user(
    database: Database, *, issuer: str, subject: str, name: str | None, email: str | None
) -> uuid.UUID:
    """The id of the user row for (issuer, subject), created on first sight and
    refreshed when the token's name or email changed."""
    script = _ensure_user(
        database.statements, issuer, subject, _display(name, 255), _display(email, 320)
    )
    return uuid.UUID(database.uuid(await database.transaction(script)))


def _next_seq(s: Statements, owner_id: uuid.UUID) -> Script[int]:
    # Row-locks the owner until commit, so seq order is commit order for that user.
    [(seq,)] = yield s.next_seq, {"owner_id": owner_id}
    return int(seq)


def _create(s: Statements, owner_id: uuid.UUID, todo: dict[str, Any]) -> Script[int]:
    new = {"owner_id": owner_id, "todo_id": todo["id"], "text": todo["text"]}
    yield s.insert_todo, {**new, "now": todo["created_at"]}
    return (yield from _next_seq(s, owner_id))


def _rejected(s: Statements, key: dict[str, Any], if_match: object) -> Script[None]:
    """No row matched: a 404 (the caller gets None), or a 412 when the todo exists at
    another version.

    Raises:
        PreconditionFailed: the todo exists; nothing was changed.
    """
    if if_match is not None and (yield s.todo_version, key):
        raise PreconditionFailed


def _update(
    s: Statements, key: dict[str, Any], changes: dict[str, Any], if_match: list[int] | None
) -> Script[Written | None]:
    fields = tuple(field for field in ("text", "done") if field in changes)
    statement = s.update_todo[(fields, if_match is not None)]
    rows = yield statement, {**key, **changes, "now": utcnow(), "versions": if_match}
    if not rows:
        yield from _rejected(s, key, if_match)
        return None
    return rows[0], (yield from _next_seq(s, key["owner_id"]))


def _delete(s: Statements, key: dict[str, Any], if_match: list[int] | None) -> Script[int | None]:
    rows = yield s.delete_todo[if_match is not None], {**key, "versions": if_match}
    if not rows:
        yield from _rejected(s, key, if_match)
        return None
    return (yield from _next_seq(s, key["owner_id"]))


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
        seq = await self._db.transaction(_create(self._s, self.owner_id, todo))
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
            PreconditionFailed: the todo exists at another version; nothing was changed.
        """
        versions = None if if_match is None else list(if_match)
        script = _update(self._s, self._key(todo_id), changes, versions)
        written = await self._db.transaction(script)
        if written is None:
            return None
        todo = self._db.todo(written[0])
        await self._publish("todo.updated", todo, written[1])
        return todo

    async def delete(self, todo_id: uuid.UUID, if_match: Collection[int] | None) -> bool:
        """Delete the todo; False when the owner has no such todo.

        Raises:
            PreconditionFailed: the todo exists at another version; nothing was deleted.
        """
        versions = None if if_match is None else list(if_match)
        seq = await self._db.transaction(_delete(self._s, self._key(todo_id), versions))
        if seq is None:
            return False
        await self._publish("todo.deleted", {"id": str(todo_id)}, seq)
        return True

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
