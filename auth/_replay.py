"""DPoP proof replay detection (RFC 9449 §11.1).

A proof is identified by its ``jti`` scoped to the key that signed it, and accepted
once for as long as its ``iat`` could still pass the freshness check. The store's one
operation is an atomic set-if-absent with expiry, which Redis' ``SET NX PX`` provides
for deployments of several instances (``auth.replay_redis``).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ._errors import Check, ServiceUnavailable
from ._stats import ReplayStats


@runtime_checkable
class ReplayStore(Protocol):
    """Remembers proof identifiers; ``first_use`` is atomic across concurrent callers."""

    async def first_use(self, key: bytes, *, ttl_seconds: float) -> bool:
        """Record ``key`` for ``ttl_seconds``; True if it was not already recorded.

        Raises:
            ServiceUnavailable: the store cannot answer. Never read that as "not seen".
        """
        ...

    async def aclose(self) -> None: ...


def replay_key(jkt: str, jti: str) -> bytes:
    """Store key for a proof: the jti scoped by the proof key's thumbprint, hashed so
    its size is fixed (16 bytes) whatever the client sent."""
    return hashlib.sha256(f"{jkt}\x00{jti}".encode("utf-8", "surrogatepass")).digest()[:16]


class MemoryReplayStore:
    """In-process replay store for a single instance, bounded to ``max_entries``.

    Entries are held in insertion order and swept from the front once expired. The
    TTL is the same for every proof, so insertion order is expiry order to within the
    freshness window. When every slot holds a live entry the store refuses new proofs
    (503) rather than forget a live one: forgetting would re-open replay.

    Memory is bounded by ``max_entries`` (an entry is a 16-byte key, a float and an
    ordered-dict node); what the default cap costs is measured by ``bench`` ("Bounded
    memory" in bench/README.md).
    ``first_use`` has no ``await`` inside, so it is atomic on the event loop.
    """

    def __init__(
        self, *, max_entries: int = 1_000_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock
        self._replays = 0
        self._full = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def first_use(self, key: bytes, *, ttl_seconds: float) -> bool:
        now = self._clock()
        expiry = self._entries.get(key)
        if expiry is not None and expiry > now:
            self._replays += 1
            return False
        self._sweep(now)
        if len(self._entries) >= self._max_entries:
            self._full += 1
            raise ServiceUnavailable("the DPoP replay store is full", check=Check.REPLAY_STORE)
        self._entries[key] = now + ttl_seconds
        self._entries.move_to_end(key)
        return True

    def stats(self) -> ReplayStats:
        return ReplayStats(size=len(self._entries), replays=self._replays, unavailable=self._full)

    def _sweep(self, now: float) -> None:
        entries = self._entries
        while entries:
            oldest_key = next(iter(entries))
            if entries[oldest_key] > now:
                return
            del entries[oldest_key]

    async def aclose(self) -> None:
        self._entries.clear()
