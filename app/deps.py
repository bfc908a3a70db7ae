"""Dependencies routes declare: who is calling, as which user, with which session."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from app import crud
from app.db import SessionDep
from app.events import EventBroker
from app.models import Todo
from app.settings import SettingsDep
from app.users import KnownUsers
from auth.errors import Check, InsufficientScope
from auth.fastapi import CurrentPrincipal
from auth.principal import Principal

NOT_FOUND = "No todo with this id."


async def current_user_id(
    principal: CurrentPrincipal, session: SessionDep, request: Request
) -> uuid.UUID:
    """The caller's user id; the row is created on first sight and kept up to date."""
    known: KnownUsers = request.app.state.known_users
    return await known.user_id(principal, session)


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
        raise InsufficientScope(
            f"requires the role {settings.todo_admin_role}", check=Check.REQUIRED_ROLE
        )
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


async def get_broker(request: Request) -> EventBroker:
    broker: EventBroker = request.app.state.broker
    return broker


BrokerDep = Annotated[EventBroker, Depends(get_broker)]
