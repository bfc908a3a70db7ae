"""The open live sockets of this process: their caps, in all and per user, and the
shutdown that closes them with 1001. Built in the lifespan (``app.services``); read by the
socket protocol (``app.api.live``) and by metrics.

A socket whose DPoP-bound token still owes its proof (the ``auth.dpop`` message) is not
its user's yet: whoever holds only the token could otherwise fill the owner's
``LIVE_MAX_SOCKETS_PER_USER`` with sockets that never prove anything. Until its proof
verifies, for at most ``LIVE_PROOF_TIMEOUT_SECONDS``, it counts in a budget of its own,
``LIVE_MAX_UNPROVEN_SOCKETS`` in all and ``LIVE_MAX_UNPROVEN_SOCKETS_PER_CLIENT`` per
client address; then against the user."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from typing import Protocol, TypeVar

from app.events.broker import Subscription
from app.server.client_shares import client_key

_Key = TypeVar("_Key")


class Clock(Protocol):
    """Wall-clock time and waiting, for token expiry (tests pass one they move by hand)."""

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> Awaitable[None]:
        # asyncio's own coroutine, not one wrapping it: every open socket waits here.
        return asyncio.sleep(seconds)


class ShuttingDown(Exception):
    """The server is stopping: the socket is closed with 1001 (Going Away)."""


class LiveConnections:
    """The open sockets of this process: their caps (in all and per user), shutdown
    ending their subscriptions (``ShuttingDown``, closed with 1001), and what they were
    sent (read by ``app.observability``)."""

    def __init__(
        self,
        *,
        max_sockets: int,
        max_sockets_per_user: int,
        max_unproven: int = 64,
        max_unproven_per_client: int = 8,
    ) -> None:
        self.shutting_down = False
        self._subscriptions: set[Subscription] = set()
        self.max_sockets = max_sockets
        self.max_sockets_per_user = max_sockets_per_user
        self.max_unproven = max_unproven
        self.max_unproven_per_client = max_unproven_per_client
        self._open = 0
        self._per_user: Counter[uuid.UUID] = Counter()
        self._unproven = 0
        self._unproven_per_client: Counter[str] = Counter()
        self._all_closed = asyncio.Event()
        self._all_closed.set()
        self.events_sent = 0

    @property
    def open_count(self) -> int:
        return self._open

    def open(self, user_id: uuid.UUID) -> str | None:
        """Count a new socket of ``user_id``, or say why it cannot be opened."""
        if self._open >= self.max_sockets:
            return f"the server holds its maximum of {self.max_sockets} sockets"
        if self._per_user[user_id] >= self.max_sockets_per_user:
            return f"this user holds the maximum of {self.max_sockets_per_user} sockets"
        self._open += 1
        self._per_user[user_id] += 1
        self._all_closed.clear()
        return None

    @property
    def unproven_count(self) -> int:
        return self._unproven

    def open_unproven(self, client: str) -> str | None:
        """Count a socket that still owes its DPoP proof, for ``client`` (its address),
        or say why it cannot be opened."""
        key = client_key(client)
        if self._unproven >= self.max_unproven:
            return f"the server holds its maximum of {self.max_unproven} sockets awaiting a proof"
        if self._unproven_per_client[key] >= self.max_unproven_per_client:
            return (
                f"this client holds the maximum of {self.max_unproven_per_client} sockets"
                " awaiting a proof"
            )
        self._unproven += 1
        self._unproven_per_client[key] += 1
        self._all_closed.clear()
        return None

    def unproven_closed(self, client: str) -> None:
        """The socket proved its key, or went: its place in the proof budget is free."""
        self._unproven -= 1
        self._gone(self._unproven_per_client, client_key(client))

    def closed(self, user_id: uuid.UUID) -> None:
        self._open -= 1
        self._gone(self._per_user, user_id)

    def _gone(self, per_key: Counter[_Key], key: _Key) -> None:
        """One socket of ``key`` less (its total already counted down); a key with none
        left is dropped, so the counters hold only the keys that have sockets."""
        per_key[key] -= 1
        if not per_key[key]:
            del per_key[key]
        if not self._open and not self._unproven:
            self._all_closed.set()

    def track(self, subscription: Subscription) -> None:
        """End ``subscription`` when the server shuts down (at once if it is)."""
        if self.shutting_down:
            subscription.end(ShuttingDown())
        else:
            self._subscriptions.add(subscription)

    def untrack(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    async def close_all(self, *, grace_seconds: float = 5.0) -> None:
        """Close every socket with 1001 and wait, at most ``grace_seconds``, until they
        have gone. Idempotent: later calls find nothing open."""
        self.shutting_down = True
        for subscription in tuple(self._subscriptions):
            subscription.end(ShuttingDown())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self._all_closed.wait()
