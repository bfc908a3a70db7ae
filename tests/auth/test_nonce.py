"""Resource-server DPoP nonces (auth.nonce): RFC 9449 §9, §11.2-11.3."""

from __future__ import annotations

import pytest

from auth._jws import b64url_decode, b64url_encode
from auth._nonce import DpopNonces
from tests.auth.fakes import FakeClock

SECRET = b"s" * 32


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=3_000.0)  # the start of a 300-second step


@pytest.fixture
def nonces(clock: FakeClock) -> DpopNonces:
    return DpopNonces(secret=SECRET, lifetime_seconds=300, clock=clock)


def test_a_fresh_nonce_is_valid(nonces: DpopNonces) -> None:
    assert nonces.is_valid(nonces.current())


def test_a_nonce_is_valid_in_its_step_and_the_next_only(
    nonces: DpopNonces, clock: FakeClock
) -> None:
    nonce = nonces.current()
    clock.advance(599)
    assert nonces.is_valid(nonce)
    assert nonces.current() != nonce
    clock.advance(1)
    assert not nonces.is_valid(nonce)


def test_a_nonce_from_the_future_is_invalid(nonces: DpopNonces, clock: FakeClock) -> None:
    clock.advance(300)
    future = nonces.current()
    clock.advance(-300)
    assert not nonces.is_valid(future)


def test_instances_sharing_a_secret_accept_each_others_nonces(
    nonces: DpopNonces, clock: FakeClock
) -> None:
    other = DpopNonces(secret=SECRET, lifetime_seconds=300, clock=clock)
    assert other.is_valid(nonces.current())


def test_a_nonce_under_another_secret_is_invalid(nonces: DpopNonces, clock: FakeClock) -> None:
    assert not DpopNonces(secret=b"t" * 32, clock=clock).is_valid(nonces.current())
    # Without a configured secret each instance makes its own.
    assert not DpopNonces(clock=clock).is_valid(DpopNonces(clock=clock).current())


def test_a_forged_step_is_invalid(nonces: DpopNonces) -> None:
    raw = bytearray(b64url_decode(nonces.current()))
    raw[7] ^= 1
    assert not nonces.is_valid(b64url_encode(bytes(raw)))


@pytest.mark.parametrize(
    "nonce",
    [None, 5, "", "not base64!", "x" * 65, b64url_encode(b"short"), "\u00e9" * 10, ["n"]],
)
def test_anything_else_is_invalid(nonces: DpopNonces, nonce: object) -> None:
    assert not nonces.is_valid(nonce)


def test_nonces_use_only_nqchar_characters(nonces: DpopNonces) -> None:
    # RFC 9449 §8.1: nonce = 1*NQCHAR; base64url is a subset.
    nonce = nonces.current()
    assert nonce
    assert all(0x21 <= ord(char) <= 0x7E and char not in '"\\' for char in nonce)
