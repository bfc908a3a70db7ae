"""Dependencies routes declare: the services and who is calling; and the caller's rows,
which the routes of owned resources ask for themselves (``caller_of``). Every shared
object is reached through ``ServicesDep`` (``app.services``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Security
from starlette.requests import HTTPConnection, Request

from app.api.security import oidc
from app.data.crud import OwnerRows
from app.data.database import Database
from app.data.owned import OwnedResource
from app.services import Services, services_of
from app.settings import AppSettings
from auth import AuthError, Principal
from auth.fastapi import check_roles

#: The authenticated caller (``app.api.security.oidc``).
CurrentPrincipal = Annotated[Principal, Security(oidc)]


async def get_services(connection: HTTPConnection) -> Services:
    """The running application's services (``async``: FastAPI runs a plain ``def``
    dependency in its thread pool, a thread hop on every request)."""
    return services_of(connection)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> AppSettings:
    return services.settings


SettingsDep = Annotated[AppSettings, Depends(get_settings)]


async def get_database(services: ServicesDep) -> Database:
    return services.database


DatabaseDep = Annotated[Database, Depends(get_database)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller as the routes of owned resources need them: their user id
    and the services."""

    user_id: uuid.UUID
    services: Services

    @property
    def settings(self) -> AppSettings:
        return self.services.settings

    def rows(self, resource: OwnedResource) -> OwnerRows:
        """The caller's rows of ``resource``: every query bound to their user id."""
        services = self.services
        return OwnerRows(services.database, services.broker, self.user_id, resource)


async def caller_of(connection: HTTPConnection, principal: Principal) -> Caller:
    """The caller; their user row is created on first sight and kept up to date.

    The routes declare the principal (``CurrentPrincipal``) and call this, rather than
    declare a ``Caller`` dependency on top of it: FastAPI solves each dependency in a
    pass of its own, a measurable share of a write (bench/README.md, section 6).
    """
    services = services_of(connection)
    return Caller(await services.known_users.user_id(principal), services)


async def require_admin(
    principal: CurrentPrincipal, settings: SettingsDep, request: Request
) -> Principal:
    """Admit principals holding the configured admin role (``TODO_ADMIN_ROLE``)."""
    try:
        return check_roles(principal, [settings.todo_admin_role])
    except AuthError as error:
        raise oidc.refusal(request, error) from None


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
