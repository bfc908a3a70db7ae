"""Live events: what changed in a user's rows, fanned out to that user's sockets.

Every event carries the user's ``seq``, incremented in the same transaction as the
change (``crud``), so it is monotonic per user across instances and a client can spot
a gap and resynchronise. In one process the broker is ``MemoryBroker``; with
``REDIS_URL`` it is ``RedisBroker`` (``app.events.redis``), which carries events
between instances over Redis pub/sub.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from app.data.models import to_json
from app.data.owned import OwnedRow, RowId


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A change to one of the user's rows: ``{"type": "todo.updated", "todo": {...},
    "seq": 7}``, the row under its resource's name (what live sockets are sent)."""

    user_id: uuid.UUID
    #: ``<resource>.<change>``, e.g. ``todo.created``
    type: str
    #: the resource's name, the key of the row in the message
    resource: str
    row: OwnedRow | RowId
    seq: int

    def message(self) -> str:
        """The JSON text sent to the user's sockets."""
        return to_json({"type": self.type, self.resource: self.row, "seq": self.seq}).decode()


class Overflowed(Exception):
    """A subscriber let its inbox fill up: it is told to leave and resynchronise."""


class Subscription:
    """One socket's inbox: a bounded list of messages and its reader. A consumer that
    lets it fill up is told to leave (``Overflowed``) instead of making the process hold
    its backlog; ``end`` tells it to leave for any other reason.

    Written for thousands of idle sockets: a list and one future while waiting, where
    an ``asyncio.Queue`` and an ``Event`` held five deques (about 3 KiB) per socket."""

    __slots__ = ("_ended", "_max_queued", "_messages", "_waiter", "user_id")

    def __init__(self, user_id: uuid.UUID, *, max_queued: int) -> None:
        self.user_id = user_id
        self._max_queued = max_queued
        self._messages: list[str] = []
        self._waiter: asyncio.Future[None] | None = None
        self._ended: BaseException | None = None

    def deliver(self, message: str) -> bool:
        """Queue ``message``; False when it was dropped (the inbox is full or ended)."""
        if self._ended is not None:
            return False
        if len(self._messages) >= self._max_queued:
            self.end(Overflowed())
            return False
        self._messages.append(message)
        self._wake()
        return True

    def end(self, reason: BaseException) -> None:
        """Stop the subscription: ``next`` raises ``reason`` from now on (the first
        reason given wins), whatever is still queued."""
        if self._ended is None:
            self._ended = reason
            self._wake()

    async def next(self) -> str:
        """The next message, in order.

        Raises:
            BaseException: the reason given to ``end`` (``Overflowed`` on overflow).
        """
        while True:
            if self._ended is not None:
                raise self._ended
            if self._messages:
                return self._messages.pop(0)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def take_queued(self) -> list[str]:
        """Every message queued now, removed from the inbox (no waiting)."""
        messages, self._messages = self._messages, []
        return messages

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class LocalFanout:
    """This process's subscriptions, by user, and how many events their inboxes dropped."""

    def __init__(self, *, max_queued: int) -> None:
        self._by_user: dict[uuid.UUID, set[Subscription]] = {}
        self._max_queued = max_queued
        self.dropped = 0

    def __len__(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._by_user.values())

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: uuid.UUID) -> AsyncIterator[Subscription]:
        subscription = Subscription(user_id, max_queued=self._max_queued)
        self._by_user.setdefault(user_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._by_user.get(user_id)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._by_user[user_id]

    def deliver(self, user_id: uuid.UUID, message: str) -> None:
        for subscription in tuple(self._by_user.get(user_id, ())):
            if not subscription.deliver(message):
                self.dropped += 1

    def deliver_to_all(self, message: str) -> None:
        for subscriptions in tuple(self._by_user.values()):
            for subscription in tuple(subscriptions):
                if not subscription.deliver(message):
                    self.dropped += 1


class EventBroker(Protocol):
    #: This process's sockets' inboxes.
    fanout: LocalFanout

    def subscribe(self, user_id: uuid.UUID) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Receive the user's events from now on, from every instance."""
        ...

    async def publish(self, event: LiveEvent) -> None:
        """Send an event to the user's sockets on every instance. Never raises: the
        change is already committed, and a client that misses the event sees the gap
        in ``seq``."""
        ...

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...
    def status(self) -> dict[str, Any]: ...


class MemoryBroker:
    """Single-process broker: events reach the sockets of this process only."""

    def __init__(self, *, max_queued: int = 256) -> None:
        self.fanout = LocalFanout(max_queued=max_queued)

    def subscribe(self, user_id: uuid.UUID) -> contextlib.AbstractAsyncContextManager[Subscription]:
        return self.fanout.subscribe(user_id)

    async def publish(self, event: LiveEvent) -> None:
        self.fanout.deliver(event.user_id, event.message())

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def status(self) -> dict[str, Any]:
        return {"kind": "memory", "ok": True, "sockets": len(self.fanout)}
