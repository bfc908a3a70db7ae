"""What a request body may be: at most ``MAX_REQUEST_BODY_BYTES``, refused before it is
read into memory; and, when it is JSON, nested at most ``MAX_BODY_NESTING`` deep,
refused before the parser recurses into it (``auth.json_nesting_exceeds``: the same
bound on every Python, where the parser's own recursion limit is not)."""

from __future__ import annotations

import contextlib

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import problem
from auth import json_nesting_exceeds

#: JSON nesting a request body may have ({"text": "..."} is 1).
MAX_BODY_NESTING = 32


class _Refused(Exception):
    pass


def _is_json(content_type: bytes) -> bool:
    # What FastAPI parses as JSON: application/json and application/*+json.
    media_type = content_type.partition(b";")[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


class BodySizeLimit:
    """Answer 413 when ``Content-Length`` exceeds the limit, and stop reading a streamed
    body as soon as it does; answer 400 when a JSON body nests too deeply. A pure ASGI
    middleware: it sees the body as it arrives.

    Once a limit is crossed, whatever the application then answers (FastAPI turns a
    failed body read into a 400) is replaced by the refusal.

    Why not FastAPI's own ``FastAPI(max_body_size=...)``: its 413 is answered before the
    application's exception handlers can see it, as ``text/plain`` "Content Too Large"
    (FastAPI 0.165), not the problem document every other error of this API is. It sits
    inside CORS (``app.main``), so a browser can read the 413.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, max_json_nesting: int = MAX_BODY_NESTING
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_nesting = max_json_nesting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streamed = has_length = json_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._too_large()(scope, receive, send)
                    return
                has_length = value != b"0"
            elif name == b"transfer-encoding":
                streamed = True
            elif name == b"content-type":
                json_body = _is_json(value)
        if not streamed and not (has_length and json_body):
            # A declared length was checked above; without one or a transfer coding an
            # HTTP/1.1 request has no body (RFC 9112 §6.3): nothing left to watch.
            await self.app(scope, receive, send)
            return
        received = opening = 0
        chunks: list[bytes] = []
        refusal: Response | None = None
        sent = False

        async def checked_receive() -> Message:
            nonlocal received, opening, refusal
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                refusal = self._too_large()
                raise _Refused
            if json_body:
                # Counting brackets is enough for nearly every body; the exact scan
                # runs only on one holding more of them than the limit.
                chunks.append(chunk)
                opening += chunk.count(b"[") + chunk.count(b"{")
                if (
                    not message.get("more_body", False)
                    and opening > self.max_json_nesting
                    and json_nesting_exceeds(b"".join(chunks), self.max_json_nesting)
                ):
                    refusal = self._too_deep()
                    raise _Refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal sent
            if refusal is None:
                await send(message)
            elif not sent:
                sent = True
                await refusal(scope, receive, send)

        with contextlib.suppress(_Refused):
            await self.app(scope, checked_receive, guarded_send)
        if refusal is not None and not sent:
            await refusal(scope, receive, send)

    def _too_large(self) -> Response:
        return problem(413, f"The request body exceeds {self.max_bytes} bytes.")

    def _too_deep(self) -> Response:
        return problem(
            400,
            f"The request body nests JSON deeper than {self.max_json_nesting} levels.",
            errors=[{"field": "body", "location": "body", "message": "nested too deeply"}],
        )
