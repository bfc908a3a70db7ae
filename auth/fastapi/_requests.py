"""What the verifier needs from a Starlette request or WebSocket upgrade: the URL as the
client sent it, the authentication headers, the peer; and the token a browser offers in
``Sec-WebSocket-Protocol`` (RFC 6455 §4.1 leaves browsers no other header to use)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import HTTPConnection
from starlette.types import Scope
from starlette.websockets import WebSocket

from .._credentials import HttpRequest
from .._errors import Check, InvalidRequest, MissingCredentials

#: ``Sec-WebSocket-Protocol`` entry carrying the access token (oidc-spa's convention).
WEBSOCKET_TOKEN_PREFIX = "authorization_bearer_"  # noqa: S105 (a prefix, not a secret)

# The headers the verifier reads; only these are decoded for it.
_AUTH_HEADERS = frozenset(
    {b"host", b"authorization", b"dpop", b"forwarded", b"x-forwarded-proto", b"x-forwarded-host"}
)
_HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def _path_as_sent(scope: Scope) -> str:
    # Starlette decodes scope["path"], but a DPoP proof's htu is the URL the client sent
    # ("/todos/caf%C3%A9", not "/todos/café"; "/a%2Fb" is not "/a/b"): the raw path is
    # used where the server gives one. Read from the scope directly: Starlette's URL
    # object costs more than the rest of a cached verification, and would take the
    # authority from the Host header unvalidated.
    raw_path = scope.get("raw_path")
    path = raw_path.partition(b"?")[0].decode("latin-1") if raw_path else quote(scope["path"])
    root_path: str = scope.get("root_path", "")
    return root_path + path


def http_request(request: HTTPConnection, method: str) -> HttpRequest:
    """The framework-agnostic view of a Starlette request or WebSocket upgrade. A
    WebSocket's ``ws(s)`` scheme is given as the ``http(s)`` scheme of its upgrade."""
    scope = request.scope
    client = scope.get("client")
    return HttpRequest(
        method=method,
        scheme=_HTTP_SCHEMES.get(scope["scheme"]) or scope["scheme"],
        path=_path_as_sent(scope),
        headers=[
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name in _AUTH_HEADERS
        ],
        query=scope.get("query_string", b"").decode("latin-1"),
        peer=client[0] if client else None,
    )


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
        raise MissingCredentials(
            "no access token offered in Sec-WebSocket-Protocol", check=Check.CREDENTIALS
        )
    if len(tokens) > 1:
        raise InvalidRequest(
            "more than one access token offered in Sec-WebSocket-Protocol",
            check=Check.DUPLICATE_CREDENTIALS,
        )
    return tokens[0]
