"""DPoP proof replay detection (auth.replay): RFC 9449 §11.1."""

from __future__ import annotations

import asyncio

import pytest

from auth._errors import Check, ServiceUnavailable
from auth._replay import MemoryReplayStore, ReplayStore, replay_key
from tests.auth.fakes import FakeClock
from tests.auth.refusals import refused


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_a_key_is_accepted_once(clock: FakeClock) -> None:
    store = MemoryReplayStore(clock=clock)
    assert await store.first_use(b"k", ttl_seconds=10) is True
    assert await store.first_use(b"k", ttl_seconds=10) is False
    assert len(store) == 1


async def test_a_key_is_forgotten_after_its_ttl(clock: FakeClock) -> None:
    store = MemoryReplayStore(clock=clock)
    await store.first_use(b"k", ttl_seconds=10)
    clock.advance(9.9)
    assert await store.first_use(b"k", ttl_seconds=10) is False
    clock.advance(0.1)
    assert await store.first_use(b"k", ttl_seconds=10) is True


async def test_concurrent_first_uses_of_one_key_have_exactly_one_winner(clock: FakeClock) -> None:
    store = MemoryReplayStore(clock=clock)
    results = await asyncio.gather(*(store.first_use(b"k", ttl_seconds=10) for _ in range(50)))
    assert results.count(True) == 1


async def test_a_full_store_refuses_rather_than_forgets_a_live_entry(clock: FakeClock) -> None:
    # Evicting a live entry would re-open replay of that proof: 503 instead.
    store = MemoryReplayStore(max_entries=3, clock=clock)
    for key in (b"a", b"b", b"c"):
        await store.first_use(key, ttl_seconds=10)
    with refused(Check.REPLAY_STORE, ServiceUnavailable):
        await store.first_use(b"d", ttl_seconds=10)
    assert await store.first_use(b"a", ttl_seconds=10) is False


async def test_expired_entries_make_room(clock: FakeClock) -> None:
    store = MemoryReplayStore(max_entries=3, clock=clock)
    for key in (b"a", b"b", b"c"):
        await store.first_use(key, ttl_seconds=10)
    clock.advance(10)
    assert await store.first_use(b"d", ttl_seconds=10) is True
    assert len(store) == 1


async def test_aclose_forgets_everything(clock: FakeClock) -> None:
    store = MemoryReplayStore(clock=clock)
    await store.first_use(b"k", ttl_seconds=10)
    await store.aclose()
    assert len(store) == 0


def test_the_memory_store_is_a_replay_store() -> None:
    assert isinstance(MemoryReplayStore(), ReplayStore)


def test_replay_keys_have_a_fixed_size_whatever_the_jti() -> None:
    # RFC 9449 §11.1: store only a hash of large jti values.
    keys = {replay_key("jkt", jti) for jti in ("a", "b" * 10_000, "\u00e9")}
    assert len(keys) == 3
    assert {len(key) for key in keys} == {16}


def test_replay_keys_are_scoped_by_the_proof_key() -> None:
    assert replay_key("key-1", "jti") != replay_key("key-2", "jti")
