"""The FastAPI adapter: one object that authenticates requests and WebSockets.

    auth = OIDCAuth()                       # OIDC_* settings from the environment
    app = FastAPI(lifespan=auth.lifespan)   # or `async with auth.running(app):` in yours

    @app.get("/items")
    async def items(user: Principal = Security(auth, scopes=["items:read"])): ...

``OIDCAuth`` is a FastAPI security dependency, declared once at module level: used with
``Security(auth, scopes=[...])`` it requires those scopes and declares them in OpenAPI.
What runs (keys, caches, the replay store) belongs to each application that serves the
declaration: its lifespan starts an authenticator and keeps it in that application, and
a request finds it through ``request.app`` (``auth.fastapi._running``). So several
applications in one process each run their own. ``auth.optional`` gives ``None`` for a
request without credentials (bad credentials are still refused);
``auth.require_roles``, ``auth.require_any_role`` and ``auth.require_scopes`` build
dependencies. A refusal is raised as ``AuthHTTPException`` (``auth.fastapi._errors``),
which renders correctly with or without ``install_error_handler``. Per request the
outcome is recorded for logs and metrics: ``request.state.principal`` or
``request.state.auth_error``; each refusal is logged at INFO with its check name only,
and each verification is an ``auth.verify`` span when OpenTelemetry is installed. The first
refusal at each check per minute is also a WARNING on ``auth.refusals``
(``auth._refusal_log``), visible under a plain ``uvicorn`` with no logging set-up.
``auth.serve_resource_metadata(app)`` serves the RFC 9728 metadata and points every
challenge at it. Tests override the principal with ``auth.fastapi.testing.override_principal``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.responses import JSONResponse
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from .._asgi import deny_websocket
from .._authorization import check_any_role, check_roles, check_scopes, scheme_of
from .._environment import read_settings
from .._errors import AuthError, MissingCredentials
from .._jws import SUPPORTED_ALGORITHMS
from .._lifecycle import running_authenticator
from .._logs import library_logger
from .._origin import InvalidOrigin
from .._principal import Principal
from .._problem import PROBLEM_JSON
from .._refusal import log_refusal
from .._refusal_log import RefusalLog
from .._replay import ReplayStore
from .._resource_metadata import (
    WELL_KNOWN_PATH,
    metadata_cache_headers,
    metadata_url,
    protected_resource_metadata,
    resource_identifier,
)
from .._settings import AuthSettings
from .._tracing import tracing_enabled, verification_span
from .._verifier import Authenticator
from ._errors import (
    AuthHTTPException,
    document_security_schemes,
    error_response,
    install,
    install_auth_error_handler,
    install_error_handler,
)
from ._requests import http_request, offered_subprotocols, websocket_token
from ._running import OverriddenAuthenticator, record_for, record_of, state_name
from ._swagger import SwaggerLogin, add_login_scheme

__all__ = [
    "PROBLEM_JSON",
    "AuthHTTPException",
    "OIDCAuth",
    "SwaggerLogin",
    "add_login_scheme",
    "check_roles",
    "check_scopes",
    "document_security_schemes",
    "error_response",
    "http_request",
    "install",
    "install_auth_error_handler",
    "install_error_handler",
    "offered_subprotocols",
]

logger = library_logger("fastapi")

_STATE_KEY = "_oidc_auth_outcome"


def _state(connection: HTTPConnection) -> dict[str, object]:
    """The scope's state, the dict behind ``connection.state``, read and written as a
    dict: ``State`` answers a missing name by raising (and ``getattr`` catching) an
    exception, and each attribute goes through ``__setattr__``, on every request."""
    state: dict[str, object] = connection.scope.setdefault("state", {})
    return state


def _outcome(connection: HTTPConnection) -> object:
    """What this request's authentication came to so far, if anything."""
    return _state(connection).get(_STATE_KEY)


def _metadata_url(connection: HTTPConnection, settings: AuthSettings) -> str | None:
    """Where this request's client finds the RFC 9728 metadata (§5.1), when the request
    names a valid host."""
    try:
        return metadata_url(resource_identifier(http_request(connection, "GET"), settings))
    except InvalidOrigin:
        return None


class OIDCAuth(SecurityBase):
    """Authentication for FastAPI applications: lifespan, dependencies, WebSockets.

    The object is a declaration, made once at module level (``Security(auth)`` needs
    it). What runs belongs to each application that serves it: ``auth.lifespan`` (or
    ``auth.running(app)`` inside an application's own lifespan) starts an authenticator
    for that application and keeps it there, so several applications in one process
    each run their own (``auth.fastapi._running``).

    ``settings`` default to ``AuthSettings()`` (the ``OIDC_*`` environment) when an
    application starts. ``production`` keeps the development modes (``OIDC_MODE=static``
    or ``decode_only``) from starting; pass ``production=False`` to allow them.
    """

    def __init__(
        self,
        settings: AuthSettings | None = None,
        *,
        production: bool = True,
        description: str = "OIDC access token (RFC 9068)",
    ) -> None:
        self.model = HTTPBearerModel(bearerFormat="JWT", description=description)
        self.scheme_name = "Bearer"
        self._settings = settings
        self._production = production
        self._state_name = state_name()
        #: Each refusal's check, visible without logging set-up, rate-limited.
        self._refusals = RefusalLog()
        self.optional = _OptionalAuthentication(self)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def settings(self) -> AuthSettings | None:
        """The settings declared with the object (None: the environment, at start)."""
        return self._settings

    def authenticator_of(self, where: HTTPConnection | Starlette) -> Authenticator:
        """The authenticator running for the application of a request, a WebSocket or
        an application itself (an override's stand-in while one is active).

        Raises:
            RuntimeError: not started for that application (no lifespan, ``running``
                or ``use`` yet).
        """
        record = record_of(where, self._state_name)
        authenticator = record.current if record is not None else None
        if authenticator is None:
            raise RuntimeError(
                "OIDCAuth is not started for this application: use its lifespan, "
                "or `async with auth.running(app)` in the application's own"
            )
        return authenticator

    @contextlib.asynccontextmanager
    async def running(
        self,
        app: Starlette,
        *,
        settings: AuthSettings | None = None,
        production: bool | None = None,
        http_client: httpx.AsyncClient | None = None,
        replay: ReplayStore | None = None,
    ) -> AsyncIterator[Authenticator]:
        """Run an authenticator for ``app`` for as long as the block lasts: built from
        ``settings`` (else those declared, else the environment), keys loaded, kept in
        ``app`` and closed on the way out. Without ``http_client`` one is created for
        discovery and JWKS. While ``override_principal`` is active nothing is built:
        the block gets the override's stand-in, and needs no settings.

        Raises:
            ConfigurationError: unsafe or incomplete settings.
            RuntimeError: already running for ``app``.
        """
        record = record_for(app, self._state_name)
        if record.authenticator is not None:
            raise RuntimeError("OIDCAuth is already started for this application")
        if record.override is not None:
            if settings is not None:
                record.override.settings = settings
            yield record.override
            return
        async with running_authenticator(
            # OIDC_* from the environment: invalid values as one sentence, unknown
            # names warned. A provider's answer that can never work stops start-up.
            settings or self._settings or read_settings(),
            production=self._production if production is None else production,
            http_client=http_client,
            replay=replay,
        ) as authenticator:
            record.authenticator = authenticator
            try:
                yield authenticator
            finally:
                record.authenticator = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """A lifespan for ``FastAPI(lifespan=auth.lifespan)``: ``running(app)``."""
        async with self.running(app):
            yield

    def use(self, app: Starlette, authenticator: Authenticator | None) -> None:
        """Have ``app`` use an authenticator built elsewhere, whose owner starts and
        closes it (None: forget it)."""
        record_for(app, self._state_name).authenticator = authenticator

    def _override(
        self, app: Starlette, stand_in: OverriddenAuthenticator | None
    ) -> OverriddenAuthenticator | None:
        """Make every request of ``app`` the stand-in's principal (None: stop); gives the
        override it replaces. See ``auth.fastapi.testing.override_principal``."""
        record = record_for(app, self._state_name)
        previous, record.override = record.override, stand_in
        return previous

    # -- dependencies --------------------------------------------------------------

    async def __call__(
        self, request: Request, response: Response, security_scopes: SecurityScopes
    ) -> Principal:
        """The authenticated caller, holding every scope of ``Security(auth, scopes=...)``.

        Raises:
            AuthHTTPException: 400/401/403/503 with the RFC 6750 / 9449 challenges.
        """
        try:
            principal = await self._principal(request, response)
            check_scopes(principal, security_scopes.scopes)
        except AuthError as error:
            raise self.refusal(request, error) from None
        return principal

    async def _principal(self, request: Request, response: Response) -> Principal:
        # One verification per request, however many dependencies ask: a DPoP proof
        # must not be checked (and recorded against replay) twice.
        state = _state(request)
        outcome = state.get(_STATE_KEY)
        if isinstance(outcome, Principal):
            return outcome
        if isinstance(outcome, AuthError):
            raise outcome
        authenticator = self.authenticator_of(request)
        try:
            if tracing_enabled():
                with verification_span() as span:
                    principal = await authenticator.authenticate(
                        http_request(request, request.method)
                    )
                    span.principal = principal
            else:
                principal = await authenticator.authenticate(http_request(request, request.method))
        except AuthError as error:
            state[_STATE_KEY] = error
            raise
        state[_STATE_KEY] = state["principal"] = principal
        for name, value in authenticator.response_headers():
            response.headers[name] = value
        return principal

    def refusal(self, connection: HTTPConnection, error: AuthError) -> AuthHTTPException:
        """Record and log ``error`` for this request, and make it an HTTP answer. A
        refusal after authentication (a missing role) goes in the challenge of the
        scheme the request authenticated with (RFC 9449 §7.2, RFC 6750 §3)."""
        outcome = _outcome(connection)
        if isinstance(outcome, Principal):
            error = error.with_scheme(scheme_of(outcome))
        connection.state.auth_error = error
        log_refusal(logger, self._refusals, error)
        record = record_of(connection, self._state_name)
        running = record.current if record is not None else None
        settings = running.settings if running is not None else self._settings
        return AuthHTTPException(
            error,
            realm=settings.realm if settings else None,
            algorithms=settings.algorithms if settings else SUPPORTED_ALGORITHMS,
            resource_metadata=(
                _metadata_url(connection, settings)
                if record is not None and record.serves_metadata and settings is not None
                else None
            ),
        )

    def serve_resource_metadata(self, app: FastAPI) -> None:
        """Serve OAuth 2.0 Protected Resource Metadata (RFC 9728) at
        ``/.well-known/oauth-protected-resource`` in ``app``, and point every refusal's
        challenges at it (``resource_metadata``, §5.1). ``resource_name`` defaults to the
        app's title; the rest comes from the settings (``auth._resource_metadata``)."""
        auth = self

        async def protected_resource_metadata_document(request: Request) -> JSONResponse:
            """OAuth 2.0 Protected Resource Metadata (RFC 9728) of this API."""
            settings = auth.authenticator_of(request).settings
            cache = metadata_cache_headers(settings)  # the document depends on the headers
            try:
                resource = resource_identifier(http_request(request, "GET"), settings)
            except InvalidOrigin:
                raise HTTPException(400, "The request names no valid host.") from None
            # §3.1: the resource's path follows the well-known path; any other is not ours.
            suffix = request.path_params.get("suffix", "")
            if urlsplit(resource).path.strip("/") != suffix.strip("/"):
                raise HTTPException(404, "No protected resource at this path.", headers=cache)
            document = protected_resource_metadata(
                settings, resource=resource, resource_name=app.title
            )
            return JSONResponse(document, headers=cache)

        app.add_api_route(
            WELL_KNOWN_PATH,
            protected_resource_metadata_document,
            methods=["GET"],
            tags=["metadata"],
            summary="Protected resource metadata (RFC 9728)",
        )
        # A resource identifier with a path (OIDC_PUBLIC_URL=https://host/todo) has its
        # metadata at the well-known path followed by that path (§3.1).
        app.add_api_route(
            WELL_KNOWN_PATH + "/{suffix:path}",
            protected_resource_metadata_document,
            methods=["GET"],
            include_in_schema=False,
        )
        record_for(app, self._state_name).serves_metadata = True

    def require_roles(self, *roles: str) -> Callable[..., Awaitable[Principal]]:
        """A dependency admitting callers that hold every one of ``roles`` (else 403)."""
        return self._requirement(lambda principal: check_roles(principal, roles))

    def require_any_role(self, *roles: str) -> Callable[..., Awaitable[Principal]]:
        """A dependency admitting callers that hold at least one of ``roles`` (else 403)."""
        return self._requirement(lambda principal: check_any_role(principal, roles))

    def require_scopes(self, *scopes: str) -> Callable[..., Awaitable[Principal]]:
        """A dependency admitting tokens granted every one of ``scopes`` (else 403).
        ``Security(auth, scopes=[...])`` does the same and shows them in OpenAPI."""
        return self._requirement(lambda principal: check_scopes(principal, scopes))

    def _requirement(
        self, check: Callable[[Principal], Principal]
    ) -> Callable[..., Awaitable[Principal]]:
        auth = self

        async def dependency(
            request: Request,
            principal: Principal = Depends(auth),  # noqa: B008 (FastAPI's dependency form)
        ) -> Principal:
            try:
                return check(principal)
            except AuthError as error:
                raise auth.refusal(request, error) from None

        return dependency

    # -- WebSockets ------------------------------------------------------------------

    async def authenticate_websocket(self, websocket: WebSocket) -> tuple[Principal, str] | None:
        """Authenticate a WebSocket upgrade before accepting it.

        Returns the principal and the token, or None after refusing the upgrade: with an
        HTTP 401/403/503 carrying the same challenges and body as HTTP routes when the
        server supports the WebSocket denial-response extension (uvicorn does), else by
        closing before accept with 1008 (which servers answer with HTTP 403).
        """
        authenticator = self.authenticator_of(websocket)
        try:
            if tracing_enabled():  # no span's context manager per upgrade otherwise
                with verification_span() as span:
                    token = _websocket_token(websocket, authenticator)
                    principal = await authenticator.authenticate_token(token)
                    span.principal = principal
            else:
                token = _websocket_token(websocket, authenticator)
                principal = await authenticator.authenticate_token(token)
        except AuthError as error:
            await self.refuse_websocket(websocket, error)
            return None
        websocket.state.principal = principal
        return principal, token

    async def refuse_websocket(self, websocket: WebSocket, error: AuthError) -> None:
        """Refuse a not yet accepted WebSocket with ``error``."""
        refusal = self.refusal(websocket, error)
        await deny_websocket(
            websocket.scope,
            websocket.send,
            status=refusal.status_code,
            headers=refusal.header_list,
            body=refusal.body(),
            content_type=PROBLEM_JSON,
            reason=error.description,
        )


def _websocket_token(websocket: WebSocket, authenticator: Authenticator) -> str:
    """The token the upgrade offers; none is needed while a principal is overridden."""
    try:
        return websocket_token(websocket)
    except MissingCredentials:
        if isinstance(authenticator, OverriddenAuthenticator):
            return ""
        raise


class _OptionalAuthentication:
    """``auth.optional``: the caller, or None when the request carries no credentials.
    Credentials that are present but bad are refused as usual (401/400)."""

    def __init__(self, auth: OIDCAuth) -> None:
        self._auth = auth

    async def __call__(self, request: Request, response: Response) -> Principal | None:
        """The authenticated caller, or None without credentials.

        Raises:
            AuthHTTPException: credentials are present but not acceptable.
        """
        try:
            return await self._auth._principal(request, response)
        except MissingCredentials:
            return None
        except AuthError as error:
            raise self._auth.refusal(request, error) from None
