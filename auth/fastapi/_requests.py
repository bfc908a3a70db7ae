"""What the verifier needs from a Starlette request or WebSocket upgrade, read from its
ASGI scope (``auth._asgi``, shared with the ASGI middleware)."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from .._asgi import WEBSOCKET_TOKEN_PREFIX, offered_protocols, scope_request, subprotocol_token
from .._credentials import HttpRequest

__all__ = ["WEBSOCKET_TOKEN_PREFIX", "http_request", "offered_subprotocols", "websocket_token"]


def http_request(request: HTTPConnection, method: str) -> HttpRequest:
    """The framework-agnostic view of a Starlette request or WebSocket upgrade. A
    WebSocket's ``ws(s)`` scheme is given as the ``http(s)`` scheme of its upgrade."""
    return scope_request(request.scope, method)


def offered_subprotocols(websocket: WebSocket) -> list[str]:
    """Every protocol offered in ``Sec-WebSocket-Protocol``, across repeated headers."""
    return offered_protocols(websocket.scope)


def websocket_token(websocket: WebSocket) -> str:
    """The access token a browser put in ``Sec-WebSocket-Protocol``.

    Raises:
        MissingCredentials: no ``authorization_bearer_`` entry.
        InvalidRequest: more than one.
    """
    return subprotocol_token(websocket.scope)
