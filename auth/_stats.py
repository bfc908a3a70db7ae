"""What the verifier's parts have done so far: plain counters, read at any time.

Each part (token cache, key set, replay store, nonces) counts in plain integers and
reports a frozen snapshot through ``stats()``; ``Authenticator.stats()`` gathers them.
Nothing here knows about a metrics system: an application reads the snapshot when it
is scraped and exports it however it likes (this repository's ``app/observability``
turns it into Prometheus metrics). Counters only grow, for the life of the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class TokenCacheStats:
    """Lookups of already verified tokens (``auth._token_cache``)."""

    hits: int
    misses: int
    size: int
    max_entries: int


@dataclass(frozen=True, slots=True)
class KeySetStats:
    """One issuer's signing keys (``auth._jwks``): fetches and the age of the set in use."""

    issuer: str
    fetches_ok: int
    fetches_failed: int
    keys: int
    #: Seconds since the keys in use were fetched; None before the first success.
    age_seconds: float | None


@dataclass(frozen=True, slots=True)
class ReplayStats:
    """The DPoP replay store (``auth._replay``)."""

    #: Proof identifiers remembered now; None where the store cannot tell cheaply (Redis).
    size: int | None
    #: Proofs refused because their ``jti`` had been seen (a replay).
    replays: int
    #: Proofs refused because the store was full or unreachable (503, fail closed).
    unavailable: int


@dataclass(frozen=True, slots=True)
class NonceStats:
    """Server-issued DPoP nonces (``auth._nonce``)."""

    issued: int
    refused: int


@dataclass(frozen=True, slots=True)
class AuthStats:
    """Everything an authenticator reports; parts it does not have are None or empty."""

    token_cache: TokenCacheStats | None = None
    key_sets: tuple[KeySetStats, ...] = ()
    replay: ReplayStats | None = None
    nonces: NonceStats | None = None


@runtime_checkable
class ReportsReplayStats(Protocol):
    """A replay store that counts (both stores of this package do; a store of your own
    need not)."""

    def stats(self) -> ReplayStats: ...
