"""The FastAPI adapter: dependencies, WebSocket authentication, errors as responses.

This is the only module that knows about HTTP status codes and headers. ``install``
registers the error rendering (``install_error_handler``) and the DPoP scheme in
OpenAPI (``document_security_schemes``) when the application is built; ``attach``
hands it the authenticator, typically in the lifespan; ``CurrentPrincipal``,
``require_roles`` and ``require_scopes`` are the dependencies routes declare;
``authenticate_websocket`` guards WebSocket upgrades.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.responses import JSONResponse
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from auth.credentials import HttpRequest
from auth.errors import (
    AuthError,
    InsufficientScope,
    InvalidRequest,
    MissingCredentials,
    Scheme,
    ServiceUnavailable,
    UseDpopNonce,
    challenges,
)
from auth.principal import Principal
from auth.verifier import Authenticator

#: ``Sec-WebSocket-Protocol`` entry carrying the access token (oidc-spa's convention).
WEBSOCKET_TOKEN_PREFIX = "authorization_bearer_"  # noqa: S105 (a prefix, not a secret)
PROBLEM_JSON = "application/problem+json"


class _Authenticate(SecurityBase):
    """The dependency that authenticates a request. Being a ``SecurityBase`` it also
    declares the ``Bearer`` scheme in OpenAPI; ``install`` adds ``DPoP`` beside it as an
    alternative. One dependency, not three: FastAPI's per-dependency cost is a large
    share of a small route's time (see bench/README.md)."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(bearerFormat="JWT", description="OIDC access token (RFC 9068)")
        self.scheme_name = "Bearer"

    async def __call__(self, request: Request, response: Response) -> Principal:
        """The authenticated caller of this request.

        Raises:
            AuthError: rendered by the installed handler as 400/401/403/503.
        """
        authenticator: Authenticator = request.app.state.authenticator
        principal = await authenticator.authenticate(http_request(request, request.method))
        for name, value in authenticator.response_headers():
            response.headers[name] = value
        return principal


current_principal = _Authenticate()
_DPOP_SCHEME = {
    "type": "http",
    "scheme": "DPoP",
    "description": "DPoP-bound access token plus a DPoP proof header (RFC 9449)",
}


def install(app: FastAPI) -> None:
    """Render ``AuthError`` as RFC 6750 / 9449 responses in ``app``, and declare the
    ``DPoP`` scheme in its OpenAPI document as an alternative wherever ``Bearer`` is
    required. Call when building the application (Starlette fixes its handlers before
    the lifespan starts). An application that builds its own OpenAPI document calls
    ``install_error_handler`` and ``document_security_schemes`` instead."""
    install_error_handler(app)
    build_openapi = app.openapi

    def openapi_with_dpop() -> dict[str, Any]:
        # FastAPI caches the document it builds; adding the scheme again is a no-op.
        return document_security_schemes(build_openapi())

    app.openapi = openapi_with_dpop  # type: ignore[method-assign]


def install_error_handler(app: FastAPI) -> None:
    """Render ``AuthError`` as RFC 6750 / 9449 responses in ``app``."""
    app.add_exception_handler(AuthError, _handle_auth_error)  # type: ignore[arg-type]


def document_security_schemes(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the ``DPoP`` scheme to an OpenAPI document, as an alternative to ``Bearer``
    on every operation that requires ``Bearer``. Returns ``schema``, changed in place."""
    schemes = schema.get("components", {}).get("securitySchemes", {})
    if "Bearer" in schemes:
        schemes["DPoP"] = _DPOP_SCHEME
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security and {"Bearer": []} in security and {"DPoP": []} not in security:
                security.append({"DPoP": []})
    return schema


def attach(app: FastAPI, authenticator: Authenticator) -> None:
    """Make ``authenticator`` the one the dependencies use (typically in the lifespan)."""
    app.state.authenticator = authenticator


def get_authenticator(connection: HTTPConnection) -> Authenticator:
    authenticator: Authenticator = connection.app.state.authenticator
    return authenticator


def error_response(error: AuthError, authenticator: Authenticator) -> Response:
    """An ``application/problem+json`` response with the RFC 6750 / 9449 challenges."""
    settings = authenticator.settings
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(error.status_code).phrase,
        "status": error.status_code,
        "detail": error.description,
    }
    if error.error is not None:
        body["error"] = error.error
    response = JSONResponse(body, status_code=error.status_code, media_type=PROBLEM_JSON)
    if error.status_code in (400, 401, 403):
        for challenge in challenges(
            error, realm=settings.realm, dpop_algorithms=settings.algorithms
        ):
            response.headers.append("WWW-Authenticate", challenge)
    if isinstance(error, UseDpopNonce):
        response.headers["DPoP-Nonce"] = error.nonce
    if isinstance(error, ServiceUnavailable):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _handle_auth_error(request: Request, exc: AuthError) -> Response:
    return error_response(exc, get_authenticator(request))


# The headers the verifier reads; only these are decoded for it.
_AUTH_HEADERS = frozenset(
    {b"authorization", b"dpop", b"forwarded", b"x-forwarded-proto", b"x-forwarded-host"}
)


def _url_as_sent(connection: HTTPConnection) -> str:
    # Starlette builds request.url from the percent-DECODED scope["path"], but a DPoP
    # proof's htu is the URL the client sent ("/todos/caf%C3%A9", not "/todos/café";
    # "/a%2Fb" is not "/a/b"): rebuild it from the raw path where the server gives one.
    # Built from the scope directly: Starlette's URL object costs more than the rest of
    # a cached verification.
    scope = connection.scope
    raw_path = scope.get("raw_path")
    if not raw_path:
        return str(connection.url.replace(query=""))
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    if host is None:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}".encode() if server else b"localhost"
    path = scope.get("root_path", "").encode() + raw_path.partition(b"?")[0]
    return f"{scope['scheme']}://{host.decode('latin-1')}{path.decode('latin-1')}"


def http_request(request: HTTPConnection, method: str) -> HttpRequest:
    """The framework-agnostic view of a Starlette request or WebSocket upgrade. A
    WebSocket's ``ws(s)://`` URL is given as the ``http(s)://`` URL of its upgrade."""
    url = _url_as_sent(request)
    if request.scope["type"] == "websocket":
        url = "http" + url.removeprefix("ws")
    client = request.scope.get("client")
    return HttpRequest(
        method=method,
        url=url,
        headers=[
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.scope["headers"]
            if name in _AUTH_HEADERS
        ],
        query=request.scope.get("query_string", b"").decode("latin-1"),
        peer=client[0] if client else None,
    )


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _scheme_of(principal: Principal) -> Scheme:
    # RFC 9449 §7.2: the error goes in the challenge of the scheme the client used; a
    # DPoP-bound principal can only have authenticated with the DPoP scheme.
    return "DPoP" if principal.dpop_bound else "Bearer"


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits principals holding every one of ``roles`` (else 403)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has_roles(roles):
            raise InsufficientScope(f"requires the role {', '.join(roles)}").with_scheme(
                _scheme_of(principal)
            )
        return principal

    return dependency


def require_scopes(*scopes: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits tokens granted every one of ``scopes`` (else 403)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has_scopes(scopes):
            raise InsufficientScope(
                f"requires the scope {' '.join(scopes)}", scope=scopes
            ).with_scheme(_scheme_of(principal))
        return principal

    return dependency


def offered_subprotocols(websocket: WebSocket) -> list[str]:
    """Every protocol offered in ``Sec-WebSocket-Protocol``, across repeated headers."""
    return [
        item.strip()
        for name, value in websocket.headers.raw
        if name == b"sec-websocket-protocol"
        for item in value.decode("latin-1").split(",")
        if item.strip()
    ]


def websocket_token(websocket: WebSocket) -> str:
    """The access token a browser put in ``Sec-WebSocket-Protocol``.

    Raises:
        MissingCredentials: no ``authorization_bearer_`` entry.
        InvalidRequest: more than one.
    """
    tokens = [
        item[len(WEBSOCKET_TOKEN_PREFIX) :]
        for item in offered_subprotocols(websocket)
        if item.startswith(WEBSOCKET_TOKEN_PREFIX)
    ]
    if not tokens:
        raise MissingCredentials("no access token offered in Sec-WebSocket-Protocol")
    if len(tokens) > 1:
        raise InvalidRequest("more than one access token offered in Sec-WebSocket-Protocol")
    return tokens[0]


async def authenticate_websocket(websocket: WebSocket) -> tuple[Principal, str] | None:
    """Authenticate a WebSocket upgrade before accepting it.

    Returns the principal and the token, or None after refusing the upgrade: with an
    HTTP 401/403/503 carrying the same challenges and body as HTTP routes when the
    server supports the WebSocket denial-response extension (uvicorn does), else by
    closing before accept with 1008 (which servers answer with HTTP 403).
    """
    authenticator = get_authenticator(websocket)
    try:
        token = websocket_token(websocket)
        principal = await authenticator.authenticate_token(token)
    except AuthError as error:
        await refuse_websocket(websocket, error)
        return None
    return principal, token


async def refuse_websocket(websocket: WebSocket, error: AuthError) -> None:
    """Refuse a not yet accepted WebSocket with ``error``."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(error, get_authenticator(websocket)))
    else:
        await websocket.close(code=1008, reason=error.description[:120])
