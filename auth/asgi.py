"""Authentication for any ASGI application (Starlette, Litestar, Quart...): a pure ASGI
middleware around the application.

    app = OIDCMiddleware(Litestar(route_handlers=[...]))         # OIDC_* from the environment
    app = Starlette(routes=[...], middleware=[Middleware(OIDCMiddleware)])

Every HTTP request and WebSocket upgrade is verified by the same verifier as everywhere
in this package; the caller is ``scope["user"]`` (a ``Principal``: ``request.user`` in
Starlette and Litestar) and ``scope["auth"]`` a ``Credentials`` whose ``scopes`` are
the token's (what Starlette's ``requires`` and Litestar guards read). A refusal is
answered here, before the application sees the request: 400/401/503 with the RFC 6750 /
9449 challenges and a problem document, and for a WebSocket the same answer where the
server supports the denial-response extension (else a close before accept). A route
that needs more raises ``check_scopes`` / ``check_roles``'s ``InsufficientScope``, which
this middleware answers with 403 and the challenge, as long as the framework lets the
exception through (Starlette does; Litestar answers it with its own exception handlers:
see ``auth/README.md``).

The authenticator runs in the application's lifespan: the middleware starts it when the
server starts the application, and closes it when the server stops it, so each wrapped
application has its own. An authenticator built elsewhere can be passed instead; its
owner starts and closes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass

from ._asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    deny_websocket,
    scope_request,
    subprotocol_token,
)
from ._authorization import scheme_of
from ._environment import read_settings
from ._errors import AuthError, MissingCredentials
from ._lifecycle import running_authenticator
from ._logs import library_logger
from ._principal import Principal
from ._refusal import Refusal, log_refusal
from ._refusal_log import RefusalLog
from ._replay import ReplayStore
from ._settings import AuthSettings
from ._tracing import verification_span
from ._verifier import Authenticator

__all__ = ["Credentials", "OIDCMiddleware", "deny_websocket"]

logger = library_logger("asgi")

# The messages after which an answer has begun: a refusal can no longer be sent.
_ANSWER_STARTED = frozenset(
    {"http.response.start", "websocket.accept", "websocket.close", "websocket.http.response.start"}
)


@dataclass(frozen=True, slots=True)
class Credentials:
    """``scope["auth"]``: the token's scopes (empty for an anonymous request)."""

    principal: Principal | None

    @property
    def scopes(self) -> frozenset[str]:
        return self.principal.scopes if self.principal is not None else frozenset()


class OIDCMiddleware:
    """Verify every HTTP request and WebSocket upgrade of ``app``.

    ``settings`` default to ``AuthSettings()`` (the ``OIDC_*`` environment), read when
    the application starts; ``production`` keeps the development modes from starting.
    ``anonymous=True`` lets requests without credentials through (``scope["user"]`` is
    None; bad credentials are still refused). ``public_paths`` are served without any
    authentication (exact paths: ``/healthz``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: AuthSettings | None = None,
        authenticator: Authenticator | None = None,
        production: bool = True,
        anonymous: bool = False,
        public_paths: Collection[str] = (),
        replay: ReplayStore | None = None,
    ) -> None:
        self.app = app
        self.anonymous = anonymous
        self.public_paths = frozenset(public_paths)
        self._settings = settings
        self._production = production
        self._replay = replay
        self._adopted = authenticator is not None
        self._authenticator = authenticator
        self._refusals = RefusalLog()

    @property
    def authenticator(self) -> Authenticator:
        """The running authenticator.

        Raises:
            RuntimeError: the application was not started (served without a lifespan).
        """
        if self._authenticator is None:
            raise RuntimeError(
                "OIDCMiddleware is not started: serve the application with its lifespan "
                "(uvicorn does by default), or pass an authenticator you start yourself"
            )
        return self._authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan" and not self._adopted:
            await self._lifespan(scope, receive, send)
        elif kind in ("http", "websocket") and scope["path"] not in self.public_paths:
            await self._authenticated(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- lifespan ---------------------------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Start the authenticator before the application's own start-up, close it once
        the application has shut down (before the server hears so)."""
        failed = False
        async with contextlib.AsyncExitStack() as stack:

            async def starting_receive() -> Message:
                nonlocal failed
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        self._authenticator = await stack.enter_async_context(
                            running_authenticator(
                                self._settings or read_settings(),
                                production=self._production,
                                replay=self._replay,
                            )
                        )
                    except Exception as exc:
                        # Told to the server here: a framework may not report an error
                        # raised by receive(), and the server would serve without us.
                        failed = True
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        raise
                return message

            async def closing_send(message: Message) -> None:
                if failed and message["type"] == "lifespan.startup.failed":
                    return  # the server has heard it from us
                if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                    await stack.aclose()
                    self._authenticator = None
                await send(message)

            try:
                await self.app(scope, starting_receive, closing_send)
            except Exception:
                if not failed:
                    raise
            finally:
                self._authenticator = None

    # -- requests -----------------------------------------------------------------------

    async def _authenticated(self, scope: Scope, receive: Receive, send: Send) -> None:
        authenticator = self.authenticator
        try:
            with verification_span() as span:
                principal = await _authenticate(authenticator, scope)
                span.principal = principal
        except MissingCredentials as error:
            if not self.anonymous:
                await self._refuse(scope, receive, send, error)
                return
            principal = None
        except AuthError as error:
            await self._refuse(scope, receive, send, error)
            return
        scope["user"] = principal
        scope["auth"] = Credentials(principal)
        extra = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in authenticator.response_headers()
        ]
        answered = False
        connected = False

        async def watched_receive() -> Message:
            nonlocal connected
            message = await receive()
            connected = connected or message["type"] == "websocket.connect"
            return message

        async def watched_send(message: Message) -> None:
            nonlocal answered
            if message["type"] in _ANSWER_STARTED:
                answered = True
                if extra and message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        except AuthError as error:
            # A route's own authorization (check_scopes, check_roles): answered like a
            # refusal of the request, if nothing has been answered yet.
            if answered:
                raise
            if scope["type"] == "websocket" and not connected:
                await receive()  # the application had not read websocket.connect yet
            await self.refusal(error, principal).send(scope, receive, send)

    def refusal(self, error: AuthError, principal: Principal | None = None) -> Refusal:
        """Log ``error`` and make it an answer with this middleware's challenges, in the
        scheme ``principal`` authenticated with: for a framework that answers exceptions
        itself (a Litestar exception handler: ``auth/README.md``).

            refusal = auth.refusal(error, request.user)
            return Response(refusal.body, status_code=refusal.status,
                            headers=refusal.merged_headers(), media_type=refusal.content_type)
        """
        if principal is not None:
            error = error.with_scheme(scheme_of(principal))
        log_refusal(logger, self._refusals, error)
        settings = self._authenticator.settings if self._authenticator else self._settings
        return Refusal.of(error, settings)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: AuthError) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect: the handshake is answered only after it
        await self.refusal(error).send(scope, receive, send)


async def _authenticate(authenticator: Authenticator, scope: Scope) -> Principal:
    """The caller of a request or upgrade. A WebSocket from a browser carries its token
    in ``Sec-WebSocket-Protocol`` (no proof: browsers cannot send one with an upgrade);
    any other request, an upgrade with an ``Authorization`` header included, is verified
    in full, DPoP proof and all."""
    if scope["type"] == "websocket" and not any(
        name == b"authorization" for name, _ in scope["headers"]
    ):
        return await authenticator.authenticate_token(subprotocol_token(scope))
    return await authenticator.authenticate(scope_request(scope))
