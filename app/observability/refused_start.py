"""A start-up refused for a setting that can never work is reported as one sentence.

Starlette reports a failed lifespan start to the server with the exception's whole
traceback as its message, and uvicorn logs that message. When the cause is an
``auth.ConfigurationError`` (an issuer that is not one, a key set that can never load),
the traceback is framework frames around a sentence that already names the setting and
its fix: the operator should read that sentence, last, and nothing else. Any other
failure keeps its traceback, because it is a bug.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth import ConfigurationError


class RefusedStartReport:
    """Rewrites ``lifespan.startup.failed`` to the sentence of a ``ConfigurationError``.

    Starlette sends the failure before it re-raises the exception, so the message is
    held until the exception says which kind of failure it was. HTTP and WebSocket
    scopes pass straight through.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def send_or_hold(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)
                return
            await send(message)

        try:
            await self.app(scope, receive, send_or_hold)
        except ConfigurationError as refusal:
            if held:
                await send({"type": "lifespan.startup.failed", "message": str(refusal)})
            raise
        except BaseException:
            for message in held:
                await send(message)
            raise
        for message in held:  # failed, and the exception was not re-raised
            await send(message)
