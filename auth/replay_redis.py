"""A replay store shared by several instances: Redis ``SET key 1 NX PX ttl``.

The one command is atomic, so exactly one instance wins when two receive the same
proof at once. When Redis cannot answer, proofs are refused with 503: treating an
error as "not seen before" would silently turn replay protection off.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ._errors import Check, ServiceUnavailable
from ._stats import ReplayStats


class RedisReplayStore:
    def __init__(self, redis: Redis, *, prefix: bytes = b"dpop:jti:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._replays = 0
        self._unavailable = 0

    async def first_use(self, key: bytes, *, ttl_seconds: float) -> bool:
        try:
            created = await self._redis.set(
                self._prefix + key, b"1", nx=True, px=max(1, math.ceil(ttl_seconds * 1000))
            )
        except (RedisError, OSError) as exc:
            self._unavailable += 1
            raise ServiceUnavailable(
                "the DPoP replay store is unavailable", check=Check.REPLAY_STORE
            ) from exc
        if not created:
            self._replays += 1
        return bool(created)

    def stats(self) -> ReplayStats:
        # The number of keys under the prefix would take a SCAN: not on a scrape.
        return ReplayStats(size=None, replays=self._replays, unavailable=self._unavailable)

    async def aclose(self) -> None:
        # The connection pool belongs to whoever created the client.
        return None
