"""Cache of verified access tokens (auth.token_cache)."""

from __future__ import annotations

from auth._token_cache import VerifiedTokenCache


def _digest(token: str) -> bytes:
    digest = VerifiedTokenCache.digest(token)
    assert digest is not None  # every token here is ASCII, so it has a digest
    return digest


def test_an_entry_is_returned_until_it_expires() -> None:
    cache: VerifiedTokenCache[str] = VerifiedTokenCache()
    digest = _digest("token")
    cache.put(digest, "alice", expires_at=100.0, kid="k1", key_thumbprint="t1")
    entry = cache.get(digest, now=99.9)
    assert entry is not None
    assert (entry.value, entry.kid, entry.key_thumbprint) == ("alice", "k1", "t1")
    assert cache.get(digest, now=100.0) is None
    assert len(cache) == 0  # dropped on sight


def test_the_least_recently_used_entry_is_evicted() -> None:
    cache: VerifiedTokenCache[str] = VerifiedTokenCache(max_entries=2)
    a, b, c = (_digest(token) for token in ("a", "b", "c"))
    cache.put(a, "a", expires_at=10, kid=None, key_thumbprint="t")
    cache.put(b, "b", expires_at=10, kid=None, key_thumbprint="t")
    assert cache.get(a, now=0) is not None  # a is now the most recently used
    cache.put(c, "c", expires_at=10, kid=None, key_thumbprint="t")
    assert cache.get(b, now=0) is None
    assert cache.get(a, now=0) is not None
    assert len(cache) == 2


def test_zero_entries_disables_the_cache() -> None:
    cache: VerifiedTokenCache[str] = VerifiedTokenCache(max_entries=0)
    digest = _digest("token")
    cache.put(digest, "alice", expires_at=10, kid=None, key_thumbprint="t")
    assert cache.get(digest, now=0) is None


def test_discard_drops_one_entry_and_tolerates_a_missing_one() -> None:
    cache: VerifiedTokenCache[str] = VerifiedTokenCache()
    a, b = _digest("a"), _digest("b")
    cache.put(a, "a", expires_at=10, kid=None, key_thumbprint="t")
    cache.put(b, "b", expires_at=10, kid=None, key_thumbprint="t")
    cache.discard(a)
    cache.discard(a)
    assert cache.get(a, now=0) is None
    assert cache.get(b, now=0) is not None
    assert len(cache) == 1


def test_digests_have_a_fixed_size_whatever_the_token() -> None:
    assert len(_digest("x" * 16_384)) == 32
    assert VerifiedTokenCache.digest("a") != VerifiedTokenCache.digest("b")
