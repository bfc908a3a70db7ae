"""Every read and write of the application's data; the only module that writes.

``OwnerRows`` is one user's rows of one owned resource (``app.data.owned``): its owner is
fixed when it is made, so no query can forget whose data it touches, and a row of
another user is simply not found. Each write bumps the owner's live-event ``seq`` in its
own transaction (``app.data.statements.Write``) and publishes the event itself, after the
commit, so a new write cannot skip live updates. Rows become the API's JSON without ORM
or pydantic objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping

from uuid6 import uuid7

from app.data.database import Database
from app.data.models import utcnow
from app.data.owned import VERSION_MAX, Change, OwnedResource, OwnedRow, RowId
from app.data.statements import (
    BEFORE,
    LIMIT,
    NOW,
    OWNER,
    ROW,
    VERSIONS,
    Params,
    Row,
    Write,
    set_flag,
)
from app.events.broker import EventBroker, LiveEvent


class StaleVersion(Exception):
    """The row exists, at a version other than those the caller accepts to overwrite
    (``If-Match``); nothing was changed. The HTTP layer answers 412."""

    def __init__(self, resource: OwnedResource) -> None:
        super().__init__(f"the {resource.name} is at another version")
        self.resource = resource


def _versions(versions: Collection[int] | None) -> list[int] | None:
    # A version beyond the column's range names no row (and would fail the statement).
    return None if versions is None else [v for v in versions if 0 <= v <= VERSION_MAX]


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
    params = {**key, "user_id": uuid7(), "now": utcnow()}
    params |= {"name": _display(name, 255), "email": _display(email, 320)}
    [written] = await database.write((s.upsert_user,), params)
    # Nothing written: the row exists and is up to date.
    rows = written or await database.fetch(s.find_user, key)
    return uuid.UUID(database.uuid(rows[0][0]))


class OwnerRows:
    """One user's rows of one owned resource, and the live events of their changes."""

    def __init__(
        self,
        database: Database,
        broker: EventBroker,
        owner_id: uuid.UUID,
        resource: OwnedResource,
    ) -> None:
        self._db, self._broker, self.owner_id = database, broker, owner_id
        self.resource = resource
        self._s = database.statements.of(resource)

    async def page(
        self,
        *,
        limit: int,
        before: uuid.UUID | None = None,
        filters: Mapping[str, object] | None = None,
    ) -> tuple[list[OwnedRow], str | None]:
        """A page of the owner's rows, newest first, and the id to continue before.
        ``filters`` narrows it to rows whose columns equal these values (only the
        resource's declared ``filters``)."""
        given = tuple(f for f in self.resource.filters if f in filters) if filters else ()
        statement = self._s.page[(given, before is not None)]
        params = {OWNER: self.owner_id, LIMIT: limit + 1, BEFORE: before, **(filters or {})}
        rows = await self._db.fetch(statement, params)
        read = self._s.read
        items = [read(row) for row in rows[:limit]]
        return items, items[-1]["id"] if len(rows) > limit else None

    async def get(self, row_id: uuid.UUID) -> OwnedRow | None:
        rows = await self._db.fetch(self._s.get, self._key(row_id))
        return self._s.read(rows[0]) if rows else None

    async def create(self, fields: Mapping[str, object]) -> OwnedRow:
        """A new row of the owner: ``fields``, and the table's defaults for the rest."""
        values, row_id, now = self.resource.new_row(fields), uuid7(), utcnow()
        params = {**values, ROW: row_id, OWNER: self.owner_id, NOW: now}
        written = await self._write(self._s.create, params)
        if written is None:  # the foreign key makes the insert fail first
            raise LookupError(f"no user {self.owner_id}")
        row = self.resource.created_row(row_id, values, now)
        await self._publish("created", row, written[1])
        return row

    async def update(
        self, row_id: uuid.UUID, changes: Mapping[str, object], if_match: Collection[int] | None
    ) -> OwnedRow | None:
        """Apply ``changes`` (fields of the resource's update body); None when the owner
        has no such row.

        ``if_match`` holds the versions the client accepts to overwrite (None: any). The
        version check and the write are one statement, so two writers cannot both win.

        Raises:
            StaleVersion: the row exists at another version; nothing was changed.
            ValueError: ``changes`` names a field the update body does not have.
        """
        updatable = self.resource.updatable
        if not changes.keys() <= set(updatable):  # a programming error: bodies are checked
            raise ValueError(f"not updatable: {sorted(changes.keys() - set(updatable))}")
        params: dict[str, object] = {**self._key(row_id), NOW: utcnow()}
        params[VERSIONS] = _versions(if_match)
        for name in updatable:
            params[name], params[set_flag(name)] = changes.get(name), name in changes
        written = await self._write(self._s.update[if_match is not None], params)
        if written is None:
            await self._refused(row_id, if_match)
            return None
        row = self._s.read(written[0])
        await self._publish("updated", row, written[1])
        return row

    async def delete(self, row_id: uuid.UUID, if_match: Collection[int] | None) -> bool:
        """Delete the row; False when the owner has no such row.

        Raises:
            StaleVersion: the row exists at another version; nothing was deleted.
        """
        params = {**self._key(row_id), VERSIONS: _versions(if_match)}
        written = await self._write(self._s.delete[if_match is not None], params)
        if written is None:
            await self._refused(row_id, if_match)
            return False
        await self._publish("deleted", RowId(id=str(row_id)), written[1])
        return True

    async def _write(self, write: Write, params: Params) -> tuple[Row, int] | None:
        return write.outcome(await self._db.write(write.statements, params))

    async def _refused(self, row_id: uuid.UUID, if_match: Collection[int] | None) -> None:
        """Nothing matched: a 404, unless If-Match was given and the row exists at
        another version (412).

        Raises:
            StaleVersion: the row exists; nothing was changed.
        """
        if if_match is not None and await self._db.fetch(self._s.version, self._key(row_id)):
            raise StaleVersion(self.resource)

    def _key(self, row_id: uuid.UUID) -> dict[str, object]:
        return {ROW: row_id, OWNER: self.owner_id}

    async def _publish(self, change: Change, row: OwnedRow | RowId, seq: int) -> None:
        resource = self.resource
        event = LiveEvent(self.owner_id, resource.events[change], resource.name, row, seq)
        await self._broker.publish(event)


async def admin_stats(database: Database) -> dict[str, int]:
    """Users, each resource's rows, and each resource's ``counted`` true rows, by name
    (``app.data.statements.stat_names``)."""
    statements = database.statements
    [counts] = await database.fetch(statements.admin_counts, {})
    return dict(zip(statements.stat_names, counts, strict=True))


async def current_seq(database: Database, *, owner_id: uuid.UUID) -> int:
    """The owner's last live-event sequence number."""
    rows = await database.fetch(database.statements.current_seq, {"owner_id": owner_id})
    return int(rows[0][0]) if rows else 0
