"""Cache of access tokens already verified, so a SPA's repeated token costs a lookup.

Keyed by the SHA-256 of the token: fixed size per entry whatever the token's length,
and an attacker cannot plant an entry without holding a token that verified. An entry
lives until the token's ``exp`` (plus leeway) and is bound to the key that verified the
token: its ``kid`` and RFC 7638 thumbprint. The verifier drops it at its next use once
that key is no longer what a fresh verification would use (removed, replaced under the
same kid, moved to another kid), so revoking a key takes effect at the next JWKS
refresh rather than at token expiry, with or without ``kid``. DPoP proofs are never
cached.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._stats import TokenCacheStats

T = TypeVar("T")
_sha256 = hashlib.sha256


@dataclass(frozen=True, slots=True)
class CachedToken(Generic[T]):
    value: T
    expires_at: float
    kid: str | None
    #: RFC 7638 thumbprint of the key the token was verified with.
    key_thumbprint: str


class VerifiedTokenCache(Generic[T]):
    """A bounded LRU map from token digest to what its verification produced.

    Memory is bounded by ``max_entries``: each entry is the digest, its bookkeeping and
    the value (the verifier caches a ``Principal``). What an entry weighs with
    Keycloak-sized claims, and so what the default ``OIDC_TOKEN_CACHE_MAX_ENTRIES``
    costs, is measured by ``bench`` ("Bounded memory" in bench/README.md).
    """

    def __init__(self, *, max_entries: int = 20_000) -> None:
        self._entries: OrderedDict[bytes, CachedToken[T]] = OrderedDict()
        self._max_entries = max_entries
        self._hits = 0
        self._misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def digest(token: str) -> bytes | None:
        """SHA-256 of the token (also its DPoP ``ath``); None for a non-ASCII token,
        which is never cached (and which ``parse_compact`` refuses)."""
        return _sha256(token.encode("ascii")).digest() if token.isascii() else None

    def get(self, digest: bytes, *, now: float) -> CachedToken[T] | None:
        """The live entry for ``digest``; expired entries are dropped on sight."""
        entry = self._entries.get(digest)
        if entry is None:
            self._misses += 1
            return None
        if entry.expires_at <= now:
            del self._entries[digest]
            self._misses += 1
            return None
        self._entries.move_to_end(digest)
        self._hits += 1
        return entry

    def put(
        self,
        digest: bytes,
        value: T,
        *,
        expires_at: float,
        kid: str | None,
        key_thumbprint: str,
    ) -> None:
        if self._max_entries <= 0:
            return
        self._entries[digest] = CachedToken(value, expires_at, kid, key_thumbprint)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def stats(self) -> TokenCacheStats:
        return TokenCacheStats(
            hits=self._hits,
            misses=self._misses,
            size=len(self._entries),
            max_entries=self._max_entries,
        )

    def discard(self, digest: bytes) -> None:
        self._entries.pop(digest, None)
