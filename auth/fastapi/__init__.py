"""The FastAPI adapter: one object that authenticates requests and WebSockets.

    auth = OIDCAuth()                       # OIDC_* settings from the environment
    app = FastAPI(lifespan=auth.lifespan)   # or `async with auth:` in your own lifespan

    @app.get("/items")
    async def items(user: Principal = Security(auth, scopes=["items:read"])): ...

``OIDCAuth`` is a FastAPI security dependency: used with ``Security(auth, scopes=[...])``
it requires those scopes and declares them in OpenAPI. ``auth.optional`` gives ``None``
for a request without credentials (bad credentials are still refused);
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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from urllib.parse import urlsplit

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.responses import JSONResponse
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from .._environment import read_settings
from .._errors import AuthError, Check, InsufficientScope, MissingCredentials, Scheme
from .._factory import create_authenticator
from .._jws import SUPPORTED_ALGORITHMS
from .._logs import library_logger
from .._origin import InvalidOrigin
from .._principal import Principal
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
    PROBLEM_JSON,
    AuthHTTPException,
    document_security_schemes,
    error_response,
    install,
    install_auth_error_handler,
    install_error_handler,
)
from ._requests import http_request, offered_subprotocols, websocket_token
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


def _scheme_of(principal: Principal) -> Scheme:
    # RFC 9449 §7.2: the error goes in the challenge of the scheme the client used; a
    # DPoP-bound principal can only have authenticated with the DPoP scheme.
    return "DPoP" if principal.dpop_bound else "Bearer"


def check_roles(principal: Principal, roles: Sequence[str]) -> Principal:
    """``principal`` if it holds every one of ``roles``. For roles known only at run
    time (a setting); ``auth.require_roles`` is the dependency for fixed ones. Turn the
    refusal into an answer with ``auth.refusal(request, error)``.

    Raises:
        InsufficientScope: a role is missing (403).
    """
    if not principal.has_roles(roles):
        raise InsufficientScope(f"requires the role {', '.join(roles)}", check=Check.REQUIRED_ROLE)
    return principal


def check_scopes(principal: Principal, scopes: Sequence[str]) -> Principal:
    """``principal`` if its token was granted every one of ``scopes``.

    Raises:
        InsufficientScope: a scope is missing (403), named in the challenge.
    """
    if not principal.has_scopes(scopes):
        raise InsufficientScope(
            f"requires the scope {' '.join(scopes)}", check=Check.REQUIRED_SCOPE, scope=scopes
        )
    return principal


class OIDCAuth(SecurityBase):
    """Authentication for a FastAPI application: lifespan, dependencies, WebSockets.

    ``settings`` default to ``AuthSettings()`` (the ``OIDC_*`` environment) when the
    object starts. ``production`` keeps the development modes (``OIDC_MODE=static`` or
    ``decode_only``) from starting; pass ``production=False`` to allow them.
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
        self._authenticator: Authenticator | None = None
        self._client: httpx.AsyncClient | None = None
        self._serves_metadata = False
        #: Each refusal's check, visible without logging set-up, rate-limited.
        self._refusals = RefusalLog()
        self.optional = _OptionalAuthentication(self)

    # -- lifecycle ---------------------------------------------------------------

    @property
    def authenticator(self) -> Authenticator:
        """The running authenticator.

        Raises:
            RuntimeError: not started (no lifespan, ``start`` or ``use`` yet).
        """
        if self._authenticator is None:
            raise RuntimeError("OIDCAuth is not started: use its lifespan, or `async with auth`")
        return self._authenticator

    @property
    def settings(self) -> AuthSettings | None:
        return self._authenticator.settings if self._authenticator else self._settings

    async def start(
        self,
        *,
        settings: AuthSettings | None = None,
        production: bool | None = None,
        http_client: httpx.AsyncClient | None = None,
        replay: ReplayStore | None = None,
    ) -> None:
        """Build the authenticator and load the issuers' keys. Without ``http_client``
        one is created (and closed by ``aclose``) for discovery and JWKS.

        Raises:
            ConfigurationError: unsafe or incomplete settings.
            RuntimeError: already started.
        """
        if self._authenticator is not None:
            raise RuntimeError("OIDCAuth is already started")
        # OIDC_* from the environment: invalid values as one sentence, unknown names warned.
        settings = settings or self._settings or read_settings()
        if http_client is None:
            http_client = self._client = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
        try:
            authenticator = create_authenticator(
                settings,
                production=self._production if production is None else production,
                http_client=http_client,
                replay=replay,
            )
        except BaseException:
            await self.aclose()  # the client it may have created
            raise
        self.use(authenticator)
        try:
            await authenticator.start()
        except BaseException:
            await self.aclose()  # a provider's answer that can never work stops start-up
            raise

    def use(self, authenticator: Authenticator) -> None:
        """Adopt an authenticator built elsewhere (its owner starts and closes it)."""
        self._authenticator = authenticator

    async def aclose(self) -> None:
        authenticator, self._authenticator = self._authenticator, None
        if authenticator is not None:
            await authenticator.aclose()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> OIDCAuth:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """A lifespan for ``FastAPI(lifespan=auth.lifespan)``."""
        async with self:
            yield

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
        authenticator = self.authenticator
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
            error.with_scheme(_scheme_of(outcome))
        connection.state.auth_error = error
        # The check name and nothing from the request: never a token or a proof.
        logger.info("refused %s (%s %d)", error.check.value, error.error, error.status_code)
        self._refusals.record(error)
        return AuthHTTPException(
            error,
            realm=self._realm,
            algorithms=self._algorithms,
            resource_metadata=self._metadata_url(connection),
        )

    def _metadata_url(self, connection: HTTPConnection) -> str | None:
        """Where this request's client finds the RFC 9728 metadata (§5.1), when it is
        served (``serve_resource_metadata``) and the request names a valid host."""
        settings = self.settings
        if not self._serves_metadata or settings is None:
            return None
        try:
            return metadata_url(resource_identifier(http_request(connection, "GET"), settings))
        except InvalidOrigin:
            return None

    def serve_resource_metadata(self, app: FastAPI) -> None:
        """Serve OAuth 2.0 Protected Resource Metadata (RFC 9728) at
        ``/.well-known/oauth-protected-resource`` in ``app``, and point every refusal's
        challenges at it (``resource_metadata``, §5.1). ``resource_name`` defaults to the
        app's title; the rest comes from the settings (``auth._resource_metadata``)."""
        auth = self

        async def protected_resource_metadata_document(request: Request) -> JSONResponse:
            """OAuth 2.0 Protected Resource Metadata (RFC 9728) of this API."""
            settings = auth.settings
            if settings is None:
                raise RuntimeError("OIDCAuth is not started")
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
        self._serves_metadata = True

    @property
    def _realm(self) -> str | None:
        settings = self.settings
        return settings.realm if settings else None

    @property
    def _algorithms(self) -> tuple[str, ...]:
        settings = self.settings
        return settings.algorithms if settings else SUPPORTED_ALGORITHMS

    def require_roles(self, *roles: str) -> Callable[..., Awaitable[Principal]]:
        """A dependency admitting callers that hold every one of ``roles`` (else 403)."""
        return self._requirement(
            lambda principal: principal.has_roles(roles),
            lambda: InsufficientScope(
                f"requires the role {', '.join(roles)}", check=Check.REQUIRED_ROLE
            ),
        )

    def require_any_role(self, *roles: str) -> Callable[..., Awaitable[Principal]]:
        """A dependency admitting callers that hold at least one of ``roles`` (else 403)."""
        return self._requirement(
            lambda principal: principal.has_any_role(roles),
            lambda: InsufficientScope(
                f"requires one of the roles {', '.join(roles)}", check=Check.REQUIRED_ROLE
            ),
        )

    def require_scopes(self, *scopes: str) -> Callable[..., Awaitable[Principal]]:
        """A dependency admitting tokens granted every one of ``scopes`` (else 403).
        ``Security(auth, scopes=[...])`` does the same and shows them in OpenAPI."""
        return self._requirement(
            lambda principal: principal.has_scopes(scopes),
            lambda: InsufficientScope(
                f"requires the scope {' '.join(scopes)}", check=Check.REQUIRED_SCOPE, scope=scopes
            ),
        )

    def _requirement(
        self, admits: Callable[[Principal], bool], refusal: Callable[[], InsufficientScope]
    ) -> Callable[..., Awaitable[Principal]]:
        auth = self

        async def dependency(
            request: Request,
            principal: Principal = Depends(auth),  # noqa: B008 (FastAPI's dependency form)
        ) -> Principal:
            if admits(principal):
                return principal
            raise auth.refusal(request, refusal().with_scheme(_scheme_of(principal)))

        return dependency

    # -- WebSockets ------------------------------------------------------------------

    async def authenticate_websocket(self, websocket: WebSocket) -> tuple[Principal, str] | None:
        """Authenticate a WebSocket upgrade before accepting it.

        Returns the principal and the token, or None after refusing the upgrade: with an
        HTTP 401/403/503 carrying the same challenges and body as HTTP routes when the
        server supports the WebSocket denial-response extension (uvicorn does), else by
        closing before accept with 1008 (which servers answer with HTTP 403).
        """
        try:
            with verification_span() as span:
                token = websocket_token(websocket)
                principal = await self.authenticator.authenticate_token(token)
                span.principal = principal
        except AuthError as error:
            await self.refuse_websocket(websocket, error)
            return None
        websocket.state.principal = principal
        return principal, token

    async def refuse_websocket(self, websocket: WebSocket, error: AuthError) -> None:
        """Refuse a not yet accepted WebSocket with ``error``."""
        refusal = self.refusal(websocket, error)
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(refusal.response())
        else:
            await websocket.close(code=1008, reason=error.description[:120])


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
