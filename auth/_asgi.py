"""The ASGI level, below any framework, written once for every adapter.

What the verifier needs from a request or WebSocket upgrade (the URL as the client sent
it, the authentication headers, the peer; the token a browser offers in
``Sec-WebSocket-Protocol``), and the answers sent from here: an HTTP response, or the
refusal of a WebSocket upgrade that has not been accepted. The Host guard, the ASGI
middleware (``auth.asgi``), the FastAPI adapter and applications' own WebSocket routes
call these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import quote

from ._credentials import HttpRequest
from ._errors import Check, InvalidRequest, MissingCredentials

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = Sequence[tuple[str, str]]

#: The close code of an upgrade refused without the denial-response extension.
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011


def raw_headers(headers: Headers, *, body: bytes, content_type: str) -> list[tuple[bytes, bytes]]:
    """ASGI header pairs: ``headers`` (repeated names kept, one field each), then the
    content type and length of ``body``."""
    return [
        *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers),
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode()),
    ]


async def send_http_response(
    send: Send, *, status: int, headers: Headers, body: bytes, content_type: str
) -> None:
    """Answer an HTTP request."""
    raw = raw_headers(headers, body=body, content_type=content_type)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def deny_websocket(
    scope: Scope,
    send: Send,
    *,
    status: int,
    headers: Headers,
    body: bytes,
    content_type: str,
    reason: str = "",
) -> None:
    """Refuse a WebSocket upgrade that has not been accepted.

    With the WebSocket denial-response extension (ASGI 2.4; uvicorn has it) the client
    gets this HTTP answer itself: its status, challenges and body. Without it the only
    refusal is a close before accept (which servers answer with HTTP 403): 1011 for a
    server-side failure (5xx), else 1008.
    """
    if "websocket.http.response" in scope.get("extensions", {}):
        raw = raw_headers(headers, body=body, content_type=content_type)
        await send({"type": "websocket.http.response.start", "status": status, "headers": raw})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    close: Message = {
        "type": "websocket.close",
        "code": INTERNAL_ERROR if status >= 500 else POLICY_VIOLATION,
    }
    if reason:  # a close frame's reason is at most 123 bytes (RFC 6455 §5.5)
        close["reason"] = reason[:120]
    await send(close)


#: ``Sec-WebSocket-Protocol`` entry carrying the access token (oidc-spa's convention:
#: RFC 6455 §4.1 leaves browsers no other header to use).
WEBSOCKET_TOKEN_PREFIX = "authorization_bearer_"  # noqa: S105 (a prefix, not a secret)

# The headers the verifier reads; only these are decoded for it.
_AUTH_HEADERS = frozenset(
    {b"host", b"authorization", b"dpop", b"forwarded", b"x-forwarded-proto", b"x-forwarded-host"}
)
_HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


def _path_as_sent(scope: Scope) -> str:
    # ASGI servers decode scope["path"], but a DPoP proof's htu is the URL the client
    # sent ("/todos/caf%C3%A9", not "/todos/café"; "/a%2Fb" is not "/a/b"): the raw path
    # is used where the server gives one. Read from the scope directly: Starlette's URL
    # object costs more than the rest of a cached verification, and would take the
    # authority from the Host header unvalidated.
    raw_path = scope.get("raw_path")
    path = raw_path.partition(b"?")[0].decode("latin-1") if raw_path else quote(scope["path"])
    root_path: str = scope.get("root_path", "")
    return root_path + path


def scope_request(scope: Scope, method: str | None = None) -> HttpRequest:
    """The framework-agnostic view of an ASGI HTTP request or WebSocket upgrade (its
    ``ws(s)`` scheme given as the ``http(s)`` scheme of the upgrade; its method GET)."""
    client = scope.get("client")
    return HttpRequest(
        method=method or scope.get("method", "GET"),
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


def offered_protocols(scope: Scope) -> list[str]:
    """Every protocol offered in ``Sec-WebSocket-Protocol``, across repeated headers."""
    return [
        item.strip()
        for name, value in scope["headers"]
        if name == b"sec-websocket-protocol"
        for item in value.decode("latin-1").split(",")
        if item.strip()
    ]


def subprotocol_token(scope: Scope) -> str:
    """The access token a browser put in ``Sec-WebSocket-Protocol``.

    Raises:
        MissingCredentials: no ``authorization_bearer_`` entry.
        InvalidRequest: more than one.
    """
    tokens = [
        item[len(WEBSOCKET_TOKEN_PREFIX) :]
        for item in offered_protocols(scope)
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
