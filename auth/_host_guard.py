"""An ASGI middleware that refuses a request whose ``Host`` is not ``host[:port]``
(RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
HTTP/1.1 request message that lacks a Host header field and to any request message
that contains more than one Host header field line or a Host header field with an
invalid field value").

Neither uvicorn (httptools or h11) nor Starlette checks the value, so
``Host: api.example/x?`` reaches the application as is, and anything that builds a URL
from it (Starlette's ``request.url`` and ``url_for`` included) builds the wrong one. The
guard answers 400 ``application/problem+json`` before any routing or authentication, for
HTTP requests and WebSocket upgrades alike. The forwarded host and proto of a trusted
proxy are held to the same rule (``auth._origin``). Pure ASGI, so any framework can
install it; the verifier checks the same rule itself wherever it uses the origin.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._asgi import ASGIApp, Receive, Scope, Send, deny_websocket, send_http_response
from ._origin import InvalidOrigin, IpNetwork, request_origin
from ._problem import PROBLEM_JSON, problem_json

_ORIGIN_HEADERS = frozenset({b"host", b"forwarded", b"x-forwarded-proto", b"x-forwarded-host"})
_HTTP_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
#: Distinct valid ``Host`` values remembered per guard; a client's inventions beyond
#: that are checked in full each time, as every value was before.
_KNOWN_HOSTS_MAX = 64


class HostGuard:
    """Refuse requests with an invalid ``Host`` (or trusted forwarded host) with 400."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[IpNetwork] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)
        # A server sees a handful of Host values: each is validated once. Only a request
        # with one Host and no forwarded header is answered from here.
        self._known_hosts: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Checked in a function of its own: this frame lasts as long as the request, a
        # WebSocket's included, and keeps no list of headers alive.
        if scope["type"] in ("http", "websocket") and (problem := self._check(scope)) is not None:
            await _refuse(scope, receive, send, f"Invalid request origin: {problem}.")
            return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> str | None:
        origin_headers = [
            (name, value) for name, value in scope["headers"] if name in _ORIGIN_HEADERS
        ]
        known = (
            len(origin_headers) == 1
            and origin_headers[0][0] == b"host"
            and origin_headers[0][1] in self._known_hosts
        )
        return None if known else self._problem(scope, origin_headers)

    def _problem(self, scope: Scope, origin_headers: list[tuple[bytes, bytes]]) -> str | None:
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in origin_headers
        ]
        client = scope.get("client")
        try:
            origin = request_origin(
                scheme=_HTTP_SCHEMES.get(scope["scheme"], "http"),
                headers=headers,
                peer=client[0] if client else None,
                trusted_proxies=self.trusted_proxies,
            )
        except InvalidOrigin as exc:
            return str(exc)
        if origin is None and scope.get("http_version") == "1.1":
            return "an HTTP/1.1 request needs a Host header"
        if (
            len(origin_headers) == 1
            and origin_headers[0][0] == b"host"
            and len(self._known_hosts) < _KNOWN_HOSTS_MAX
        ):
            self._known_hosts.add(origin_headers[0][1])
        return None


async def _refuse(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
    body = problem_json(400, detail)
    headers = [("cache-control", "no-store")]
    if scope["type"] == "http":
        await send_http_response(
            send, status=400, headers=headers, body=body, content_type=PROBLEM_JSON
        )
        return
    await receive()  # websocket.connect: the handshake is answered only after it
    # A real HTTP 400 where the server can send one, instead of the 403 that servers
    # send for a socket closed before it was accepted.
    await deny_websocket(
        scope, send, status=400, headers=headers, body=body, content_type=PROBLEM_JSON
    )
