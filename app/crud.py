"""Every database write of the application, and the reads that go with them.

Each function takes the session and the owner keyword-only, so no query can forget
whose data it touches: a todo of another user is simply not found. Writes bump the
owner's live-event ``seq`` in the same transaction and return the event to publish
once the commit has succeeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.errors import PreconditionFailed
from app.events import EventType, LiveEvent
from app.models import AdminStats, Todo, User, todo_public, utcnow


def _display(value: str | None, limit: int) -> str | None:
    # Name and email come from the token and are only displayed: drop what PostgreSQL
    # cannot store (NUL) and what the column cannot hold rather than fail the request.
    return None if value is None else value.replace("\x00", "")[:limit] or None


async def ensure_user(
    session: AsyncSession, *, issuer: str, subject: str, name: str | None, email: str | None
) -> User:
    """The user row for (issuer, subject), created on first sight and refreshed when the
    token's name or email changed."""
    name, email = _display(name, 255), _display(email, 320)
    query = select(User).where(col(User.issuer) == issuer, col(User.subject) == subject)
    user = (await session.exec(query)).first()
    if user is None:
        user = User(issuer=issuer, subject=subject, name=name, email=email)
        session.add(user)
        try:
            await session.commit()
        except IntegrityError:
            # Another request created it first.
            await session.rollback()
            return (await session.exec(query)).one()
        return user
    if (user.name, user.email) != (name, email):
        user.name, user.email, user.updated_at = name, email, utcnow()
        await session.commit()
    return user


async def _next_seq(session: AsyncSession, owner_id: uuid.UUID) -> int:
    # Row-locks the owner until commit, so seq order is commit order for that user.
    bump = update(User).where(col(User.id) == owner_id).values(event_seq=col(User.event_seq) + 1)
    seq: int = (await session.exec(bump.returning(col(User.event_seq)))).scalar_one()
    return seq


async def _event(
    session: AsyncSession, owner_id: uuid.UUID, kind: EventType, todo: dict[str, Any]
) -> LiveEvent:
    return LiveEvent(user_id=owner_id, type=kind, todo=todo, seq=await _next_seq(session, owner_id))


async def list_todos(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    limit: int,
    before: uuid.UUID | None = None,
    done: bool | None = None,
) -> tuple[list[Todo], uuid.UUID | None]:
    """A page of the owner's todos, newest first, and the id to continue before."""
    query = select(Todo).where(col(Todo.owner_id) == owner_id)
    if done is not None:
        query = query.where(col(Todo.done) == done)
    if before is not None:
        query = query.where(col(Todo.id) < before)
    query = query.order_by(col(Todo.id).desc()).limit(limit + 1)
    rows = list((await session.exec(query)).all())
    next_before = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_before


async def get_todo(
    session: AsyncSession, *, owner_id: uuid.UUID, todo_id: uuid.UUID
) -> Todo | None:
    query = select(Todo).where(col(Todo.id) == todo_id, col(Todo.owner_id) == owner_id)
    return (await session.exec(query)).first()


async def create_todo(
    session: AsyncSession, *, owner_id: uuid.UUID, text: str
) -> tuple[Todo, LiveEvent]:
    todo = Todo(owner_id=owner_id, text=text)
    session.add(todo)
    await session.flush()
    event = await _event(session, owner_id, "todo.created", todo_public(todo))
    await session.commit()
    return todo, event


async def _current_version(
    session: AsyncSession, owner_id: uuid.UUID, todo_id: uuid.UUID
) -> int | None:
    query = select(col(Todo.version)).where(col(Todo.id) == todo_id, col(Todo.owner_id) == owner_id)
    return (await session.exec(query)).first()


async def update_todo(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    todo_id: uuid.UUID,
    changes: dict[str, Any],
    if_match: Collection[int] | None = None,
) -> tuple[Todo, LiveEvent] | None:
    """Apply ``changes``; None when the owner has no such todo.

    ``if_match`` holds the versions the client accepts to overwrite (None: any). The
    version check and the write are one statement, so two writers cannot both win.

    Raises:
        PreconditionFailed: the todo exists at another version; nothing was changed.
    """
    statement = (
        update(Todo)
        .where(col(Todo.id) == todo_id, col(Todo.owner_id) == owner_id)
        .values(**changes, version=col(Todo.version) + 1, updated_at=utcnow())
        .returning(Todo)
    )
    if if_match is not None:
        statement = statement.where(col(Todo.version).in_(list(if_match)))
    todo: Todo | None = (await session.exec(statement)).scalar_one_or_none()
    if todo is None:
        await session.rollback()
        if if_match is not None and await _current_version(session, owner_id, todo_id) is not None:
            raise PreconditionFailed
        return None
    event = await _event(session, owner_id, "todo.updated", todo_public(todo))
    await session.commit()
    return todo, event


async def delete_todo(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    todo_id: uuid.UUID,
    if_match: Collection[int] | None = None,
) -> LiveEvent | None:
    """Delete the todo; None when the owner has no such todo.

    Raises:
        PreconditionFailed: the todo exists at another version; nothing was deleted.
    """
    statement = (
        delete(Todo)
        .where(col(Todo.id) == todo_id, col(Todo.owner_id) == owner_id)
        .returning(col(Todo.id))
    )
    if if_match is not None:
        statement = statement.where(col(Todo.version).in_(list(if_match)))
    deleted: uuid.UUID | None = (await session.exec(statement)).scalar_one_or_none()
    if deleted is None:
        await session.rollback()
        if if_match is not None and await _current_version(session, owner_id, todo_id) is not None:
            raise PreconditionFailed
        return None
    event = await _event(session, owner_id, "todo.deleted", {"id": str(deleted)})
    await session.commit()
    return event


async def admin_stats(session: AsyncSession) -> AdminStats:
    users = (await session.exec(select(func.count()).select_from(User))).one()
    todos = (await session.exec(select(func.count()).select_from(Todo))).one()
    done = (await session.exec(select(func.count()).select_from(Todo).where(col(Todo.done)))).one()
    return AdminStats(users=users, todos=todos, todos_done=done)


async def current_seq(session: AsyncSession, *, owner_id: uuid.UUID) -> int:
    """The owner's last live-event sequence number."""
    query = select(User.event_seq).where(col(User.id) == owner_id)
    return (await session.exec(query)).one()
