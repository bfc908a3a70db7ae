"""Fixtures of the auth suite: a test issuer served over a mock transport, a fixed
clock, and the verifier wired to both. Keys are generated once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from auth._jwks import JwksCache
from auth._replay import MemoryReplayStore
from auth._settings import AuthSettings
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, TestIssuer
from tests.auth.fakes import API_URL, FakeClock, IdpTransport, clone_issuer, settings_for


@pytest.fixture(scope="session")
def issuer_template() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def issuer(issuer_template: TestIssuer) -> TestIssuer:
    return clone_issuer(issuer_template)


@pytest.fixture(scope="session")
def rsa_dpop_key() -> DpopKey:
    return DpopKey("RS256")


@pytest.fixture
def dpop_key() -> DpopKey:
    return DpopKey("ES256")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def transport(issuer: TestIssuer) -> IdpTransport:
    return IdpTransport(issuer)


@pytest.fixture
async def http_client(transport: IdpTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport) as client:
        yield client


@pytest.fixture
async def jwks(
    http_client: httpx.AsyncClient, issuer: TestIssuer, clock: FakeClock
) -> AsyncIterator[JwksCache]:
    cache = JwksCache(
        client=http_client,
        issuer=issuer.issuer,
        discovery_uri=issuer.discovery_uri,
        refetch_cooldown=10,
        clock=clock,
    )
    yield cache
    await cache.aclose()


@pytest.fixture
def settings(issuer: TestIssuer) -> AuthSettings:
    return settings_for(issuer)


@pytest.fixture
def make_verifier(
    issuer: TestIssuer, jwks: JwksCache, clock: FakeClock
) -> Callable[..., TokenVerifier]:
    """Build a verifier on the shared JWKS cache and clock with settings overrides."""

    def make(**overrides: Any) -> TokenVerifier:
        return TokenVerifier(
            settings_for(issuer, **overrides),
            keys=jwks,
            replay=MemoryReplayStore(clock=clock),
            clock=clock,
        )

    return make


@pytest.fixture
def verifier(make_verifier: Callable[..., TokenVerifier]) -> TokenVerifier:
    return make_verifier()


@pytest.fixture
def mint(issuer: TestIssuer, clock: FakeClock) -> Callable[..., str]:
    """Mint an access token issued at the fake clock's now, valid for five minutes."""

    def mint_token(subject: str = "alice", **claims: Any) -> str:
        timing = {"iat": int(clock.now), "exp": int(clock.now) + 300}
        return issuer.token(subject, **(timing | claims))

    return mint_token


@pytest.fixture
def prove(clock: FakeClock) -> Callable[..., str]:
    """Make a DPoP proof at the fake clock's now (``iat`` may be overridden)."""

    def make_proof(key: DpopKey, method: str = "GET", url: str = API_URL, **kwargs: Any) -> str:
        kwargs.setdefault("iat", clock.now)
        return key.proof(method, url, **kwargs)

    return make_proof
