"""Live events across instances over Redis pub/sub.

Every instance publishes to and listens on one channel and hands each event to its
own sockets of that user. One channel keeps subscription state trivial (no window in
which a new socket is connected but not yet subscribed); each instance receives every
user's events, which is cheap up to tens of thousands of events per second. Beyond
that, shard the channel by user id.

The listener reconnects on its own. While Redis is away, publishing fails (logged,
readiness says so) but the writes themselves succeed; when the listener comes back it
sends every local socket ``{"type": "resync"}``, since events may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.events.broker import LiveEvent, LocalFanout, Subscription

logger = logging.getLogger("app.events")

CHANNEL = "todo:events"
RESYNC_MESSAGE = json.dumps({"type": "resync"})
_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)


class RedisBroker:
    def __init__(self, redis: Redis, *, max_queued: int = 256) -> None:
        self._redis = redis
        self.fanout = LocalFanout(max_queued=max_queued)
        self._listener: asyncio.Task[None] | None = None
        self._listening = False
        self._publish_failures = 0
        self._last_error: str | None = None

    def subscribe(self, user_id: uuid.UUID) -> contextlib.AbstractAsyncContextManager[Subscription]:
        return self.fanout.subscribe(user_id)

    async def publish(self, event: LiveEvent) -> None:
        payload = json.dumps({"user_id": str(event.user_id), "message": event.message()})
        try:
            await self._redis.publish(CHANNEL, payload)
        except (RedisError, OSError) as exc:
            self._publish_failures += 1
            self._last_error = f"publish: {exc.__class__.__name__}"
            logger.warning(
                "live event seq=%d not published: Redis unavailable (%s)", event.seq, exc
            )

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever(), name="redis-events-listener")

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    def status(self) -> dict[str, Any]:
        return {
            "kind": "redis",
            "ok": self._listening,
            "listening": self._listening,
            "publish_failures": self._publish_failures,
            "last_error": self._last_error,
            "sockets": len(self.fanout),
        }

    async def _listen_forever(self) -> None:
        # A listener can die once redis-py's own retries run out while PING still
        # works elsewhere, so the whole subscription is rebuilt in a loop.
        attempt = 0
        missed_events = False
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._listening, self._last_error, attempt = True, None, 0
                    logger.info("listening for live events on Redis channel %s", CHANNEL)
                    if missed_events:
                        self.fanout.deliver_to_all(RESYNC_MESSAGE)
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None and message.get("type") == "message":
                            self._dispatch(message["data"])
            except asyncio.CancelledError:
                self._listening = False
                raise
            except (RedisError, OSError) as exc:
                if self._listening:
                    logger.warning("lost the Redis live-event subscription: %s", exc)
                self._listening, missed_events = False, True
                self._last_error = f"listener: {exc.__class__.__name__}"
                await asyncio.sleep(_BACKOFF[min(attempt, len(_BACKOFF) - 1)])
                attempt += 1

    def _dispatch(self, data: bytes | str) -> None:
        try:
            envelope = json.loads(data)
            user_id = uuid.UUID(envelope["user_id"])
            message = envelope["message"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed live event from Redis")
            return
        self.fanout.deliver(user_id, message)
