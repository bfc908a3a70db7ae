"""Live updates over a WebSocket: the server side of the ``todo.v1`` protocol of ``/api/ws``.

The protocol (authentication in ``Sec-WebSocket-Protocol``, the ``auth.dpop`` first
message for DPoP-bound tokens, messages, ``seq``, close codes) is described once, in
docs/websocket.md; this module implements it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.api.security import oidc
from app.data import crud
from app.data.database import DatabaseUnavailable
from app.events.broker import Overflowed, Subscription
from app.events.connections import ShuttingDown
from app.services import Services
from auth import (
    AuthError,
    Principal,
    ServiceUnavailable,
    client_address,
    json_nesting_exceeds,
    problem_json,
)
from auth.asgi import deny_websocket
from auth.fastapi import PROBLEM_JSON, http_request, offered_subprotocols

logger = logging.getLogger("app.live")

PROTOCOL = "todo.v1"
#: Client messages are JSON objects nested at most this deep (docs/websocket.md).
MAX_MESSAGE_DEPTH = 4
CLIENT_MESSAGE_TYPES = frozenset({"auth.dpop", "auth.refresh", "ping"})


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001  # the server is shutting down
    UNSUPPORTED_DATA = 1003  # a binary message: the protocol speaks JSON text
    TRY_AGAIN_LATER = 1013  # the server, or this user, holds its maximum of sockets
    BAD_MESSAGE = 4400  # a client message this protocol does not define
    UNAUTHORIZED = 4401  # the token expired, or the DPoP proof is missing or invalid
    FORBIDDEN = 4403  # a refreshed token belongs to someone else
    SLOW_CONSUMER = 4429  # the client fell too far behind: reconnect and resync


@dataclass(slots=True)
class _Session:
    principal: Principal
    token: str
    user_id: uuid.UUID


class _Close(Exception):
    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason[:120]


def _parse(text: str, *, max_bytes: int) -> dict[str, Any]:
    """A client message, or the 4400 close for one this protocol does not define."""
    if len(text.encode()) > max_bytes:
        raise _Close(CloseCode.BAD_MESSAGE, f"messages are at most {max_bytes} bytes")
    # Before parsing: the parser recurses once per level (auth.json_nesting_exceeds).
    if json_nesting_exceeds(text, MAX_MESSAGE_DEPTH):
        raise _Close(CloseCode.BAD_MESSAGE, "message nested too deeply")
    try:
        message = json.loads(text)
    except ValueError:
        raise _Close(CloseCode.BAD_MESSAGE, "messages must be JSON objects") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise _Close(CloseCode.BAD_MESSAGE, "messages must be JSON objects with a type")
    if message["type"] not in CLIENT_MESSAGE_TYPES:
        raise _Close(CloseCode.BAD_MESSAGE, f"unknown message type {message['type'][:40]!r}")
    return message


class LiveSocket:
    """One accepted socket: sends the user's events, handles client messages, and
    closes when the token expires, the client lags, or the server stops."""

    def __init__(self, websocket: WebSocket, *, services: Services) -> None:
        self.websocket = websocket
        self.authenticator = services.authenticator
        self.broker = services.broker
        self.database = services.database
        self.settings = services.settings
        self.connections = services.live
        self.known_users = services.known_users
        self.clock = services.clock
        self.trusted_proxies = services.auth_settings.trusted_proxies

    async def serve(self) -> None:
        if PROTOCOL not in offered_subprotocols(self.websocket):
            await self._refuse_protocol()
            return
        authenticated = await oidc.authenticate_websocket(self.websocket)
        if authenticated is None:
            return
        principal, token = authenticated
        try:
            user_id = await self.known_users.user_id(principal)
        except DatabaseUnavailable:
            # Refused like an HTTP request would be: 503, retry later; never a 500.
            await self._deny(503, "The database is unavailable; retry shortly.")
            return
        session = _Session(principal, token, user_id)
        try:
            # Accepted first: a close code reaches browsers, an HTTP status does not.
            await self.websocket.accept(subprotocol=PROTOCOL)
            async with self._place(session):
                await self._run(session)
        except _Close as close:
            if close.code is not CloseCode.GOING_AWAY:  # one line, whatever the client sent
                logger.info(
                    "closing the live socket of user %s: %d %s", user_id, close.code, close.reason
                )
            await self._close(close.code, close.reason)
        except (WebSocketDisconnect, OSError):
            pass  # the client left (uvicorn reports a vanished peer as an OSError)

    @contextlib.asynccontextmanager
    async def _place(self, session: _Session) -> AsyncIterator[None]:
        """The socket's place under the caps (docs/limits.md): its user's, and, while
        a DPoP-bound token owes its proof, one in the budget of sockets awaiting a proof
        instead (``app.events.connections``), so that a token without its key cannot
        fill its owner's sockets."""
        if self._needs_proof(session.principal):
            client = self._client_address()
            if refused := self.connections.open_unproven(client):
                raise _Close(CloseCode.TRY_AGAIN_LATER, refused)
            try:
                await self._expect_dpop_proof(session)
            finally:
                self.connections.unproven_closed(client)
        if refused := self.connections.open(session.user_id):
            raise _Close(CloseCode.TRY_AGAIN_LATER, refused)
        try:
            yield
        finally:
            self.connections.closed(session.user_id)

    def _needs_proof(self, principal: Principal) -> bool:
        return principal.dpop_bound and self.settings.live_dpop_proof == "required"

    def _client_address(self) -> str:
        client = self.websocket.scope.get("client")
        peer = client[0] if client else None
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self.websocket.scope["headers"]
            if name in (b"forwarded", b"x-forwarded-for")
        ]
        address = client_address(headers=headers, peer=peer, trusted_proxies=self.trusted_proxies)
        return address or "unknown"

    async def _refuse_protocol(self) -> None:
        await self._deny(400, f"offer the {PROTOCOL} subprotocol")

    async def _deny(self, status: int, detail: str) -> None:
        """Refuse the upgrade with an HTTP problem answer where the server allows it."""
        await deny_websocket(
            self.websocket.scope,
            self.websocket.send,
            status=status,
            headers=[],
            body=problem_json(status, detail),
            content_type=PROBLEM_JSON,
        )

    async def _run(self, session: _Session) -> None:
        async with self.broker.subscribe(session.user_id) as subscription:
            # Subscribed before reading seq: no event can fall between the two.
            seq = await crud.current_seq(self.database, owner_id=session.user_id)
            await self._send(
                {"type": "ready", "seq": seq, "expires_at": session.principal.expires_at}
            )
            # Whatever ends the session (a client message, the token, an overflowing
            # inbox, the server's shutdown) ends the subscription, and the pump below
            # raises it: three tasks per socket, for sockets by the ten thousand.
            self.connections.track(subscription)
            tasks = (
                asyncio.create_task(self._receive(session, subscription)),
                asyncio.create_task(self._watch_token(session, subscription)),
            )
            try:
                # The events of the user, written in this, the socket's own task.
                while True:
                    await self.websocket.send_text(await self._next_event(subscription))
                    self.connections.events_sent += 1
            finally:
                self.connections.untrack(subscription)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _expect_dpop_proof(self, session: _Session) -> None:
        try:
            async with asyncio.timeout(self.settings.live_proof_timeout_seconds):
                message = await self._receive_message()
        except TimeoutError:
            raise _Close(
                CloseCode.UNAUTHORIZED, "a DPoP-bound token needs an auth.dpop message"
            ) from None
        if message["type"] != "auth.dpop" or not isinstance(message.get("proof"), str):
            raise _Close(
                CloseCode.UNAUTHORIZED, "a DPoP-bound token needs an auth.dpop message first"
            )
        await self._verify_proof(session.principal, session.token, message["proof"])

    async def _verify_proof(self, principal: Principal, token: str, proof: str) -> None:
        try:
            await self.authenticator.verify_proof(
                principal, token=token, proof=proof, request=http_request(self.websocket, "GET")
            )
        except AuthError as error:
            raise _Close(CloseCode.UNAUTHORIZED, error.description) from None

    async def _next_event(self, subscription: Subscription) -> str:
        try:
            return await subscription.next()
        except Overflowed:
            raise _Close(
                CloseCode.SLOW_CONSUMER, "too many events queued; reconnect and resync"
            ) from None
        except ShuttingDown:
            raise _Close(CloseCode.GOING_AWAY, "server shutting down") from None

    async def _watch_token(self, session: _Session, subscription: Subscription) -> None:
        """End the session once its token is no longer acceptable: at its expiry, and, as
        the token is verified again every ``LIVE_TOKEN_RECHECK_SECONDS``, once the key
        that signed it has left the issuer's key set (removing a key revokes what it
        signed, open sockets included). A verification costs a cache lookup. (One
        coroutine, without helpers: a frame of each of ten thousand sockets is memory.)"""
        interval = self.settings.live_token_recheck_seconds
        try:
            while True:
                # Re-read on every wake-up: auth.refresh moves the deadline and the token.
                expires_at = session.principal.expires_at
                remaining = interval if expires_at is None else expires_at - self.clock.time()
                if remaining <= 0:
                    subscription.end(_Close(CloseCode.UNAUTHORIZED, "access token expired"))
                    return
                await self.clock.sleep(min(remaining, interval))
                try:
                    await self.authenticator.authenticate_token(session.token)
                except ServiceUnavailable:
                    continue  # no verdict (keys unreachable): check it again later
                except AuthError as error:
                    subscription.end(_Close(CloseCode.UNAUTHORIZED, error.description))
                    return
        except Exception as fault:  # reported by the socket's own task
            subscription.end(fault)

    async def _receive(self, session: _Session, subscription: Subscription) -> None:
        """Answer client messages until one ends the session, or the client leaves."""
        try:
            while True:
                message = await self._receive_message()
                kind = message["type"]
                if kind == "ping":
                    await self._send({"type": "pong"})
                elif kind == "auth.refresh":
                    await self._refresh(session, message)
                else:
                    subscription.end(_Close(CloseCode.BAD_MESSAGE, f"{kind} is not expected now"))
                    return
        except Exception as ended:  # _Close, the client's disconnect, or a fault
            subscription.end(ended)

    async def _receive_message(self) -> dict[str, Any]:
        """The next client message. Every frame gets a defined answer: a binary message
        closes with 1003, anything else this protocol does not define with 4400."""
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is None:
            raise _Close(CloseCode.UNSUPPORTED_DATA, "messages are JSON text, not binary")
        return _parse(text, max_bytes=self.settings.live_max_message_bytes)

    async def _refresh(self, session: _Session, message: dict[str, Any]) -> None:
        token, proof = message.get("token"), message.get("proof")
        if not isinstance(token, str):
            raise _Close(CloseCode.BAD_MESSAGE, "auth.refresh needs a token")
        try:
            principal = await self.authenticator.authenticate_token(token)
        except AuthError as error:
            # The session keeps its current token until that expires.
            await self._send({"type": "error", "error": error.error, "detail": error.description})
            return
        if (principal.issuer, principal.subject) != (
            session.principal.issuer,
            session.principal.subject,
        ):
            raise _Close(CloseCode.FORBIDDEN, "the new token belongs to another user")
        if self._needs_proof(principal):
            if not isinstance(proof, str):
                raise _Close(CloseCode.UNAUTHORIZED, "a DPoP-bound token needs a proof")
            await self._verify_proof(principal, token, proof)
        session.principal, session.token = principal, token
        await self._send({"type": "auth.ok", "expires_at": principal.expires_at})

    async def _send(self, message: dict[str, Any]) -> None:
        await self.websocket.send_text(json.dumps(message))

    async def _close(self, code: CloseCode, reason: str) -> None:
        if self.websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):  # the peer may be gone already
                async with asyncio.timeout(5):
                    await self.websocket.close(code=code, reason=reason)
