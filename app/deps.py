"""Dependencies routes declare: who is calling, as which user, with which session."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from app import crud
from app.db import SessionDep
from app.events import EventBroker
from app.models import Todo
from app.settings import SettingsDep
from auth.errors import InsufficientScope
from auth.fastapi import CurrentPrincipal
from auth.principal import Principal

NOT_FOUND = "No todo with this id."


class KnownUsers:
    """Which user row each (issuer, subject) maps to, as last written, so a request of a
    known, unchanged user costs no database round trip. Bounded LRU."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[uuid.UUID, str | None, str | None]] = (
            OrderedDict()
        )
        self._max_entries = max_entries

    def lookup(self, principal: Principal) -> uuid.UUID | None:
        entry = self._entries.get((principal.issuer, principal.subject))
        if entry is None or entry[1:] != (principal.name, principal.email):
            return None
        self._entries.move_to_end((principal.issuer, principal.subject))
        return entry[0]

    def remember(self, principal: Principal, user_id: uuid.UUID) -> None:
        key = (principal.issuer, principal.subject)
        self._entries[key] = (user_id, principal.name, principal.email)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


async def current_user_id(
    principal: CurrentPrincipal, session: SessionDep, request: Request
) -> uuid.UUID:
    """The caller's user id; the row is created on first sight and kept up to date."""
    known: KnownUsers = request.app.state.known_users
    user_id = known.lookup(principal)
    if user_id is None:
        user = await crud.ensure_user(
            session,
            issuer=principal.issuer,
            subject=principal.subject,
            name=principal.name,
            email=principal.email,
        )
        known.remember(principal, user.id)
        user_id = user.id
    return user_id


CurrentUserId = Annotated[uuid.UUID, Depends(current_user_id)]


async def owned_todo(
    todo_id: Annotated[uuid.UUID, Path(description="The todo's id")],
    owner_id: CurrentUserId,
    session: SessionDep,
) -> Todo:
    """The caller's todo, or 404: another user's todo is indistinguishable from none."""
    todo = await crud.get_todo(session, owner_id=owner_id, todo_id=todo_id)
    if todo is None:
        raise HTTPException(404, NOT_FOUND)
    return todo


OwnedTodo = Annotated[Todo, Depends(owned_todo)]


async def require_admin(principal: CurrentPrincipal, settings: SettingsDep) -> Principal:
    """Admit principals holding the configured admin role (``TODO_ADMIN_ROLE``)."""
    if settings.todo_admin_role not in principal.roles:
        raise InsufficientScope(f"requires the role {settings.todo_admin_role}")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


async def get_broker(request: Request) -> EventBroker:
    broker: EventBroker = request.app.state.broker
    return broker


BrokerDep = Annotated[EventBroker, Depends(get_broker)]
