"""Refusing request bodies over a size limit before they are read into memory."""

from __future__ import annotations

import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import problem


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Answer 413 when ``Content-Length`` exceeds the limit, and stop reading a streamed
    body as soon as it does. A pure ASGI middleware: it sees the body as it arrives.

    Once the limit is crossed, whatever the application then answers (FastAPI turns a
    failed body read into a 400) is replaced by the 413.

    Why not FastAPI's own ``FastAPI(max_body_size=...)``: its 413 is answered before the
    application's exception handlers can see it, as ``text/plain`` "Content Too Large"
    (FastAPI 0.165), not the problem document every other error of this API is. It sits
    inside CORS (``app.main``), so a browser can read the 413.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streamed = False
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await self._reject(scope, receive, send)
                return
            if name == b"transfer-encoding":
                streamed = True
        if not streamed:
            # A declared length was checked above; without one or a transfer coding an
            # HTTP/1.1 request has no body (RFC 9112 §6.3): nothing left to watch.
            await self.app(scope, receive, send)
            return
        received = 0
        too_large = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal rejected
            if not too_large:
                await send(message)
            elif not rejected:
                rejected = True
                await self._reject(scope, receive, send)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if too_large and not rejected:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, f"The request body exceeds {self.max_bytes} bytes.")
        await response(scope, receive, send)
