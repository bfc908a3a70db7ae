"""Dependencies routes declare: the services, who is calling, as which user, with which
session. Every shared object is reached through ``ServicesDep`` (``app.services``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Security
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection, Request

from app import crud
from app.events import EventBroker
from app.models import Todo
from app.security import oidc
from app.services import Services, services_of
from app.settings import AppSettings
from auth.errors import AuthError
from auth.fastapi import check_roles
from auth.principal import Principal

NOT_FOUND = "No todo with this id."

#: The authenticated caller (``app.security.oidc``).
CurrentPrincipal = Annotated[Principal, Security(oidc)]


async def get_services(connection: HTTPConnection) -> Services:
    """The running application's services (``async``: FastAPI runs a plain ``def``
    dependency in its thread pool, a thread hop on every request)."""
    return services_of(connection)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> AppSettings:
    return services.settings


SettingsDep = Annotated[AppSettings, Depends(get_settings)]


async def get_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_broker(services: ServicesDep) -> EventBroker:
    return services.broker


BrokerDep = Annotated[EventBroker, Depends(get_broker)]


async def current_user_id(
    principal: CurrentPrincipal, session: SessionDep, services: ServicesDep
) -> uuid.UUID:
    """The caller's user id; the row is created on first sight and kept up to date."""
    return await services.known_users.user_id(principal, session)


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


async def require_admin(
    principal: CurrentPrincipal, settings: SettingsDep, request: Request
) -> Principal:
    """Admit principals holding the configured admin role (``TODO_ADMIN_ROLE``)."""
    try:
        return check_roles(principal, [settings.todo_admin_role])
    except AuthError as error:
        raise oidc.refusal(request, error) from None


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
