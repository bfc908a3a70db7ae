"""Where a running authenticator lives: in the application it serves, never in the
declaration.

An ``OIDCAuth`` is declared once, at module level, because ``Security(auth)`` needs it
when routes are defined. What runs (key sets, caches, the replay store) belongs to one
application: each application keeps its own ``AppAuthentication`` in its ``app.state``,
under a name unique to the declaration, and a request finds it through ``request.app``.
So two applications built from one declaration (two ``create_app()`` in one process,
as tests do) each run their own authenticator with their own settings.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from .._credentials import HttpRequest
from .._principal import Principal
from .._settings import AuthMode, AuthSettings
from .._stats import AuthStats
from .._verifier import Authenticator

_names = itertools.count(1)


def state_name() -> str:
    """A name in ``app.state`` for one declaration's per-application record."""
    return f"oidc_auth_{next(_names)}"


@dataclass(slots=True)
class AppAuthentication:
    """One declaration's running parts in one application."""

    #: Started by the lifespan (``OIDCAuth.running``), or adopted (``OIDCAuth.use``).
    authenticator: Authenticator | None = None
    #: ``auth.fastapi.testing.override_principal``: wins over ``authenticator``.
    override: OverriddenAuthenticator | None = None
    #: ``OIDCAuth.serve_resource_metadata``: challenges point at the RFC 9728 document.
    serves_metadata: bool = False

    @property
    def current(self) -> Authenticator | None:
        return self.override or self.authenticator


def application_of(where: HTTPConnection | Starlette) -> Starlette:
    """The application a request or WebSocket is served by (``scope["app"]``, set by
    Starlette: a mounted application is its own)."""
    return where.app if isinstance(where, HTTPConnection) else where


def record_of(where: HTTPConnection | Starlette, name: str) -> AppAuthentication | None:
    record: AppAuthentication | None = getattr(application_of(where).state, name, None)
    return record


def record_for(app: Starlette, name: str) -> AppAuthentication:
    """The record of ``app``, created on first use (building the app, or its lifespan)."""
    record = record_of(app, name)
    if record is None:
        record = AppAuthentication()
        setattr(app.state, name, record)
    return record


class OverriddenAuthenticator:
    """Every request and WebSocket is ``principal``, with or without credentials: what
    ``override_principal`` puts in an application for its block. Its ``mode`` is
    ``static`` (one fixed identity); nothing is fetched, nothing needs settings."""

    mode = AuthMode.STATIC

    def __init__(self, principal: Principal, settings: AuthSettings | None) -> None:
        self.principal = principal
        # Only challenges read these (realm, algorithms): defaults when none are given.
        self.settings = settings if settings is not None else AuthSettings.model_construct()

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def status(self) -> dict[str, Any]:
        return {"mode": "override", "subject": self.principal.subject}

    def is_ready(self) -> bool:
        return True

    def stats(self) -> AuthStats:
        return AuthStats()

    def response_headers(self) -> list[tuple[str, str]]:
        return []

    async def authenticate(self, request: HttpRequest) -> Principal:
        return self.principal

    async def authenticate_token(self, token: str) -> Principal:
        return self.principal

    async def verify_proof(
        self, principal: Principal, *, token: str, proof: str, request: HttpRequest
    ) -> None:
        return None
