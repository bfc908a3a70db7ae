"""Counters of the verifier's parts (auth.stats): what a metrics exporter reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from auth._development import StaticIdentityAuthenticator
from auth._errors import InvalidDpopProof, ServiceUnavailable, UseDpopNonce
from auth._jwks import JwksCache
from auth._nonce import DpopNonces
from auth._replay import MemoryReplayStore
from auth._stats import AuthStats, ReplayStats
from auth._token_cache import VerifiedTokenCache
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, TestIssuer
from tests.auth.fakes import FakeClock, http_request, settings_for

Mint = Callable[..., str]
Prove = Callable[..., str]


def _bearer(token: str) -> Any:
    return http_request(authorization=[f"Bearer {token}"])


def _dpop(token: str, proof: str) -> Any:
    return http_request(authorization=[f"DPoP {token}"], proofs=[proof])


def test_the_token_cache_counts_hits_and_misses() -> None:
    cache: VerifiedTokenCache[str] = VerifiedTokenCache(max_entries=10)
    digest = cache.digest("token")
    assert digest is not None
    assert cache.get(digest, now=0) is None
    cache.put(digest, "alice", expires_at=10, kid=None, key_thumbprint="jkt")
    assert cache.get(digest, now=1) is not None
    assert cache.get(digest, now=10) is None  # expired: a miss
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.size, stats.max_entries) == (1, 2, 0, 10)


async def test_the_replay_store_counts_replays_and_refusals_when_full() -> None:
    store = MemoryReplayStore(max_entries=1_000, clock=FakeClock())
    for key in range(1_000):
        assert await store.first_use(key.to_bytes(2, "big"), ttl_seconds=60)
    assert not await store.first_use((0).to_bytes(2, "big"), ttl_seconds=60)
    with pytest.raises(ServiceUnavailable):
        await store.first_use(b"new", ttl_seconds=60)
    assert store.stats() == ReplayStats(size=1_000, replays=1, unavailable=1)


def test_nonces_count_what_was_issued_and_refused() -> None:
    nonces = DpopNonces(secret=b"s" * 32)
    nonce = nonces.current()
    assert nonces.is_valid(nonce)
    assert not nonces.is_valid("forged")
    assert not nonces.is_valid(None)
    assert (nonces.stats().issued, nonces.stats().refused) == (1, 2)


async def test_the_key_set_counts_fetches_and_knows_its_age(
    jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
) -> None:
    assert jwks.stats().age_seconds is None
    await jwks.refresh()
    clock.advance(42)
    issuer.available = False
    await jwks.refresh()
    stats = jwks.stats()
    assert (stats.issuer, stats.fetches_ok, stats.fetches_failed) == (issuer.issuer, 1, 1)
    assert stats.age_seconds == 42  # the failed refresh left the keys in use as they were
    assert stats.keys > 0


async def test_the_verifier_gathers_its_parts(
    issuer: TestIssuer, jwks: JwksCache, clock: FakeClock, mint: Mint, prove: Prove
) -> None:
    verifier = TokenVerifier(
        settings_for(issuer, dpop_nonce=True, dpop_nonce_secret="nonce-secret"),
        keys=jwks,
        replay=MemoryReplayStore(clock=clock),
        clock=clock,
    )
    key = DpopKey("ES256")
    token = mint(dpop_key=key)
    with pytest.raises(UseDpopNonce) as asked:
        await verifier.authenticate(_dpop(token, prove(key, access_token=token)))
    proof = prove(key, access_token=token, nonce=asked.value.nonce)
    await verifier.authenticate(_dpop(token, proof))
    with pytest.raises(InvalidDpopProof):
        await verifier.authenticate(_dpop(token, proof))  # the same proof again
    stats = verifier.stats()
    assert stats.token_cache is not None
    assert (stats.token_cache.misses, stats.token_cache.hits) == (1, 2)
    assert [key_set.fetches_ok for key_set in stats.key_sets] == [1]
    assert stats.replay == ReplayStats(size=1, replays=1, unavailable=0)
    assert stats.nonces is not None
    assert (stats.nonces.issued, stats.nonces.refused) == (1, 1)


def test_a_development_mode_reports_nothing(issuer: TestIssuer) -> None:
    authenticator = StaticIdentityAuthenticator(settings_for(issuer, mode="static"))
    assert authenticator.stats() == AuthStats()
