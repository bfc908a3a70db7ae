"""The issuer's signing keys: selection, cache lifetime, rotation and outages (auth.jwks)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import ECKey, OKPKey, RSAKey
from pytest_httpx import HTTPXMock

from auth._errors import Check, InvalidToken, ServiceUnavailable
from auth._jwks import JwksCache, cache_lifetime, select_signing_keys
from auth._jws import b64url_encode
from auth.testing import TestIssuer
from tests.auth.fakes import FakeClock, IdpTransport
from tests.auth.refusals import refused
from tests.auth.vectors import ROCA_MODULUS

COOLDOWN = 10


def _b64int(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _public(key: Any, **members: Any) -> dict[str, Any]:
    return {**key.as_dict(private=False), **members}


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@pytest.fixture(scope="module")
def rsa_1024_jwk() -> dict[str, str]:
    short = rsa.generate_private_key(65537, 1024)  # noqa: S505 (too short on purpose)
    numbers = short.public_key().public_numbers()
    return {
        "kty": "RSA",
        "kid": "short",
        "n": b64url_encode(numbers.n.to_bytes(128, "big")),
        "e": "AQAB",
    }


async def _until(predicate: Any, *, seconds: float = 2.0) -> None:
    """Yield to the event loop until ``predicate()`` holds (background tasks)."""
    for _ in range(int(seconds / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


class TestSelectSigningKeys:
    def test_signature_keys_are_indexed_by_kid(self, rsa_key: RSAKey) -> None:
        ec = ECKey.generate_key("P-256")
        okp = OKPKey.generate_key("Ed25519")
        keys = select_signing_keys(
            {
                "keys": [
                    _public(rsa_key, kid="r", use="sig", alg="RS256"),
                    _public(ec, kid="e"),
                    _public(okp, kid="o", key_ops=["verify"]),
                ]
            }
        )
        assert set(keys.by_kid) == {"r", "e", "o"}
        assert len(keys) == 3
        assert keys.ignored == ()

    @pytest.mark.parametrize(
        ("members", "reason"),
        [
            ({"use": "enc"}, "use is not sig"),
            ({"key_ops": ["encrypt"]}, "key_ops lacks verify"),
            ({"key_ops": "verify"}, "key_ops lacks verify"),
            ({"kid": 7}, "invalid kid"),
            ({"kid": None}, "invalid kid"),
            ({"key_ops": None}, "key_ops lacks verify"),
            ({"use": None}, "use is not sig"),
            ({"kid": "k" * 257}, "invalid kid"),
            ({"alg": ["RS256"]}, "invalid alg"),
            ({"alg": "HS256"}, "no supported algorithm"),
            ({"d": "AQAB"}, "private"),
        ],
        ids=[
            "use-enc",
            "key-ops",
            "key-ops-not-list",
            "kid-int",
            "kid-null",
            "key-ops-null",
            "use-null",
            "kid-long",
            "alg-list",
            "alg-hmac",
            "private-member",
        ],
    )
    def test_keys_not_for_verifying_signatures_are_ignored(
        self, rsa_key: RSAKey, members: dict[str, Any], reason: str
    ) -> None:
        keys = select_signing_keys({"keys": [_public(rsa_key, **({"kid": "x"} | members))]})
        assert len(keys) == 0
        assert len(keys.ignored) == 1
        assert reason in keys.ignored[0]

    @pytest.mark.parametrize(
        ("n", "e"),
        [
            (ROCA_MODULUS, 65537),
            ((1 << 4103) | 1, 65537),
            ((1 << 2047) | 1, 3),
            ((1 << 2047) | 1, 65536),
            ((1 << 2047) | 1, (1 << 2046) | 1),
        ],
        ids=["roca", "4104-bit", "e=3", "even-e", "huge-e"],
    )
    def test_rsa_keys_that_are_factorable_or_too_costly_are_ignored(self, n: int, e: int) -> None:
        # ROCA (CVE-2017-15361; Nemec et al., CCS 2017): the published test modulus of
        # the detector. Bounds: modulus <= 4096 bits, exponent odd in [65537, 2**32).
        jwk = {"kty": "RSA", "kid": "k", "n": _b64int(n), "e": _b64int(e)}
        keys = select_signing_keys({"keys": [jwk]})
        assert len(keys) == 0
        assert len(keys.ignored) == 1

    def test_repeated_key_operations_are_ignored(self, rsa_key: RSAKey) -> None:
        # RFC 7517 §4.3: "Duplicate key operation values MUST NOT be present".
        jwk = _public(rsa_key, kid="r", key_ops=["verify", "verify"])
        assert len(select_signing_keys({"keys": [jwk]})) == 0

    def test_symmetric_keys_are_ignored(self) -> None:
        keys = select_signing_keys({"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]})
        assert len(keys) == 0
        assert "symmetric" in keys.ignored[0]

    def test_rsa_keys_shorter_than_2048_bits_are_ignored(
        self, rsa_1024_jwk: dict[str, str]
    ) -> None:
        keys = select_signing_keys({"keys": [rsa_1024_jwk]})
        assert len(keys) == 0
        assert "2048" in keys.ignored[0]

    def test_private_keys_are_ignored(self) -> None:
        private = dict(ECKey.generate_key("P-256").as_dict(private=True))
        keys = select_signing_keys({"keys": [{**private, "kid": "p"}]})
        assert len(keys) == 0

    def test_entries_that_are_not_objects_are_ignored(self, rsa_key: RSAKey) -> None:
        keys = select_signing_keys({"keys": ["text", 1, None, _public(rsa_key, kid="r")]})
        assert list(keys.by_kid) == ["r"]
        assert len(keys.ignored) == 3

    def test_keys_without_kid_are_kept_apart(self, rsa_key: RSAKey) -> None:
        keys = select_signing_keys({"keys": [_public(rsa_key)]})
        assert keys.by_kid == {}
        assert len(keys.without_kid) == 1

    def test_publishes_answers_as_key_resolution_would(self, rsa_key: RSAKey) -> None:
        # A cached token is bound to (kid, RFC 7638 thumbprint); it stays valid only if
        # key_for would still pick that very key for it.
        ec = ECKey.generate_key("P-256")
        rsa_thumbprint, ec_thumbprint = rsa_key.thumbprint(), ec.thumbprint()
        mixed = select_signing_keys({"keys": [_public(rsa_key, kid="r"), _public(ec)]})
        assert mixed.published == {("r", rsa_thumbprint), (None, ec_thumbprint)}
        assert mixed.publishes("r", rsa_thumbprint)
        assert not mixed.publishes("r", ec_thumbprint)
        assert not mixed.publishes("e", ec_thumbprint)
        assert mixed.publishes(None, ec_thumbprint)
        assert not mixed.publishes(None, rsa_thumbprint)
        single = select_signing_keys({"keys": [_public(rsa_key, kid="r")]})
        assert single.publishes(None, rsa_thumbprint)  # the one key resolves a kid-less token
        assert not single.publishes(None, ec_thumbprint)
        two = select_signing_keys({"keys": [_public(rsa_key, kid="r"), _public(ec, kid="e")]})
        assert not two.publishes(None, rsa_thumbprint)
        assert two.thumbprint_of(two.by_kid["e"][0]) == ec_thumbprint

    @pytest.mark.parametrize("document", [{}, {"keys": {}}, {"keys": "x"}])
    def test_a_document_without_a_keys_array_is_refused(self, document: dict[str, Any]) -> None:
        from auth._discovery import FetchError

        with pytest.raises(FetchError, match="keys array"):
            select_signing_keys(document)


class TestCacheLifetime:
    @pytest.mark.parametrize(
        ("cache_control", "expected"),
        [
            ("max-age=300", 300),
            ("public, max-age=120", 120),
            ('max-age="240"', 240),
            ("MAX-AGE=200", 200),
            ("max-age=5", 60),
            ("max-age=9999999", 3600),
            ("max-age=0", 60),
            ("", 600),
            ("public", 600),
            ("s-maxage=100", 600),
            ("no-store", 60),
            ("no-cache", 60),
            ("max-age=3000, no-cache", 60),
            ('no-cache="Set-Cookie", max-age=3000', 60),
            ("private, no-store, max-age=3000", 60),
        ],
    )
    def test_max_age_is_honoured_within_bounds_and_no_store_means_minimum(
        self, cache_control: str, expected: int
    ) -> None:
        headers = httpx.Headers({"Cache-Control": cache_control} if cache_control else {})
        assert cache_lifetime(headers, minimum=60, maximum=3600, default=600) == expected


class TestJwksCache:
    async def test_keys_are_loaded_on_first_use(self, jwks: JwksCache, issuer: TestIssuer) -> None:
        assert jwks.keys is None
        key = await jwks.key_for(issuer.current_kid["RS256"], "RS256")
        assert key.key_type == "RSA"
        assert (issuer.discovery_requests, issuer.jwks_requests) == (1, 1)

    async def test_cache_control_max_age_sets_when_the_keys_go_stale(
        self, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        issuer.cache_control = "max-age=300"
        await jwks.refresh()
        clock.advance(299)
        assert jwks.status()["stale"] is False
        clock.advance(1)
        assert jwks.status()["stale"] is True

    async def test_no_store_keeps_the_keys_only_for_the_minimum(
        self, http_client: httpx.AsyncClient, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        issuer.cache_control = "no-store, max-age=86400"
        cache = JwksCache(
            client=http_client,
            issuer=issuer.issuer,
            discovery_uri=issuer.discovery_uri,
            min_ttl=30,
            clock=clock,
        )
        await cache.refresh()
        clock.advance(30)
        assert cache.status()["stale"] is True

    async def test_concurrent_refreshes_share_one_fetch(
        self, jwks: JwksCache, issuer: TestIssuer
    ) -> None:
        results = await asyncio.gather(*(jwks.refresh() for _ in range(20)))
        assert all(results)
        assert (issuer.discovery_requests, issuer.jwks_requests) == (1, 1)

    async def test_concurrent_first_lookups_share_one_fetch(
        self, jwks: JwksCache, issuer: TestIssuer
    ) -> None:
        kid = issuer.current_kid["ES256"]
        await asyncio.gather(*(jwks.key_for(kid, "ES256") for _ in range(20)))
        assert issuer.jwks_requests == 1

    async def test_a_failed_refresh_keeps_serving_the_cached_keys(
        self, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        kid = issuer.current_kid["RS256"]
        await jwks.refresh()
        issuer.available = False
        clock.advance(10_000)
        assert await jwks.refresh() is False
        assert await jwks.key_for(kid, "RS256") is not None
        status = jwks.status()
        assert status["keys_loaded"] is True
        assert status["issuer_reachable"] is False
        assert "503" in status["last_error"]

    async def test_a_flood_of_unknown_kids_fetches_at_most_once_per_cooldown(
        self, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        await jwks.refresh()
        assert issuer.jwks_requests == 1

        async def lookup() -> None:
            with refused(Check.KID, InvalidToken):
                await jwks.key_for(secrets.token_hex(8), "RS256")

        # The first unknown kid may fetch once (a key may have been published since the
        # load); the rest of the flood, concurrent or not, shares or waits out that fetch.
        await asyncio.gather(*(lookup() for _ in range(200)))
        for _ in range(200):
            await lookup()
        assert issuer.jwks_requests == 2
        clock.advance(COOLDOWN - 1)
        await asyncio.gather(*(lookup() for _ in range(200)))
        assert issuer.jwks_requests == 2
        clock.advance(1)
        await lookup()
        assert issuer.jwks_requests == 3
        # Unknown kids never reach the discovery document again.
        assert issuer.discovery_requests == 1

    async def test_a_newly_published_key_is_picked_up_at_once(
        self, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        # A background refresh just happened: it must not delay a rotation's new kid.
        await jwks.refresh()
        new_kid = issuer.add_key("RS256")
        key = await jwks.key_for(new_kid, "RS256")
        assert key.key_type == "RSA"

    async def test_a_key_published_during_the_cooldown_waits_for_it(
        self, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        await jwks.refresh()
        with refused(Check.KID, InvalidToken):
            await jwks.key_for("not-yet-published", "RS256")
        new_kid = issuer.add_key("RS256")
        clock.advance(1)
        with refused(Check.KID, InvalidToken):
            await jwks.key_for(new_kid, "RS256")
        clock.advance(COOLDOWN)
        key = await jwks.key_for(new_kid, "RS256")
        assert key.key_type == "RSA"

    async def test_a_removed_key_is_refused_after_the_next_refresh(
        self, jwks: JwksCache, issuer: TestIssuer
    ) -> None:
        old_kid = issuer.current_kid["RS256"]
        await jwks.refresh()
        issuer.add_key("RS256")
        issuer.remove_key(old_kid)
        await jwks.refresh()
        with refused(Check.KID, InvalidToken):
            await jwks.key_for(old_kid, "RS256")

    async def test_a_key_that_does_not_fit_the_algorithm_is_refused(
        self, jwks: JwksCache, issuer: TestIssuer
    ) -> None:
        with refused(Check.KEY, InvalidToken):
            await jwks.key_for(issuer.current_kid["RS256"], "ES256")
        with refused(Check.KEY, InvalidToken):
            await jwks.key_for(issuer.current_kid["RS256"], "PS256")  # the key says RS256

    async def test_a_token_without_kid_needs_a_single_published_key(
        self, jwks: JwksCache, issuer: TestIssuer
    ) -> None:
        with refused(Check.KID, InvalidToken):
            await jwks.key_for(None, "RS256")
        issuer.remove_key(issuer.current_kid["ES256"])
        await jwks.refresh()
        assert (await jwks.key_for(None, "RS256")).key_type == "RSA"

    async def test_issuer_unreachable_at_start_is_service_unavailable_then_recovers(
        self, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        kid = issuer.current_kid["RS256"]
        issuer.available = False
        with refused(Check.KEYS_UNAVAILABLE, ServiceUnavailable):
            await jwks.key_for(kid, "RS256")
        issuer.available = True
        # Within the cooldown the failed attempt is not repeated per request...
        with refused(Check.KEYS_UNAVAILABLE, ServiceUnavailable):
            await jwks.key_for(kid, "RS256")
        assert issuer.jwks_requests == 0
        # ...after it, the next request loads the keys.
        clock.advance(COOLDOWN)
        assert (await jwks.key_for(kid, "RS256")).key_type == "RSA"

    async def test_the_background_maintainer_retries_until_the_issuer_returns(
        self, http_client: httpx.AsyncClient, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        cache = JwksCache(
            client=http_client,
            issuer=issuer.issuer,
            discovery_uri=issuer.discovery_uri,
            retry_backoff=(0.01,),
            clock=clock,
        )
        issuer.available = False
        try:
            await cache.start()  # a failed first load is logged, not raised
            assert cache.keys is None
            await _until(lambda: cache.status()["last_error"] is not None)
            issuer.available = True
            await _until(lambda: cache.keys is not None)
            assert cache.status()["issuer_reachable"] is True
        finally:
            await cache.aclose()

    async def test_the_background_maintainer_refreshes_stale_keys(
        self, http_client: httpx.AsyncClient, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        cache = JwksCache(
            client=http_client,
            issuer=issuer.issuer,
            discovery_uri=issuer.discovery_uri,
            clock=clock,
        )
        try:
            await cache.start()
            assert issuer.jwks_requests == 1
            clock.advance(301)  # past max-age=300, before the maintainer first runs
            await _until(lambda: issuer.jwks_requests == 2)
        finally:
            await cache.aclose()

    async def test_the_background_maintainer_recovers_after_a_failed_refresh(
        self, http_client: httpx.AsyncClient, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        # Stale keys kept through an outage must be replaced once the issuer is back:
        # a key removed meanwhile (revoked) must stop validating without any lookup of
        # an unknown kid to trigger the refresh.
        revoked = issuer.current_kid["ES256"]
        cache = JwksCache(
            client=http_client,
            issuer=issuer.issuer,
            discovery_uri=issuer.discovery_uri,
            retry_backoff=(0.01,),
            clock=clock,
        )
        try:
            await cache.start()
            issuer.available = False
            clock.advance(301)  # due before the maintainer first runs
            await _until(lambda: cache.status()["last_error"] is not None)
            issuer.remove_key(revoked)
            issuer.available = True
            await _until(lambda: cache.status()["last_error"] is None)
            with refused(Check.KID, InvalidToken):
                await cache.key_for(revoked, "ES256")
        finally:
            await cache.aclose()

    async def test_unknown_kid_while_the_issuer_is_down_is_service_unavailable(
        self, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        await jwks.refresh()
        issuer.available = False
        clock.advance(COOLDOWN)
        # The kid may have just been published: we cannot tell, so 503 rather than 401.
        with refused(Check.ISSUER_UNREACHABLE, ServiceUnavailable):
            await jwks.key_for("just-rotated", "RS256")
        with refused(Check.ISSUER_UNREACHABLE, ServiceUnavailable):
            await jwks.key_for("just-rotated-2", "RS256")

    async def test_discovery_is_fetched_again_after_a_failure(
        self, jwks: JwksCache, issuer: TestIssuer
    ) -> None:
        await jwks.refresh()
        issuer.available = False
        await jwks.refresh()
        issuer.available = True
        await jwks.refresh()
        assert issuer.discovery_requests == 2

    async def test_a_discovery_issuer_mismatch_is_refused(
        self, http_client: httpx.AsyncClient, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        cache = JwksCache(
            client=http_client,
            issuer="https://issuer.test/realms/other",
            discovery_uri=issuer.discovery_uri,
            clock=clock,
        )
        assert await cache.refresh() is False
        assert "does not equal" in cache.status()["last_error"]
        assert cache.status()["state"] == "misconfigured"
        assert issuer.jwks_requests == 0
        # Not "keys not available yet": this configuration can never work.
        with refused(Check.ISSUER_MISCONFIGURED, ServiceUnavailable):
            await cache.key_for(issuer.current_kid["RS256"], "RS256")

    async def test_an_https_issuer_pointing_to_http_keys_is_refused(
        self, httpx_mock: HTTPXMock, clock: FakeClock
    ) -> None:
        issuer = "https://idp.example/realms/todo"
        discovery = f"{issuer}/.well-known/openid-configuration"
        httpx_mock.add_response(
            url=discovery, json={"issuer": issuer, "jwks_uri": "http://idp.example/certs"}
        )
        async with httpx.AsyncClient() as client:
            cache = JwksCache(client=client, issuer=issuer, discovery_uri=discovery, clock=clock)
            assert await cache.refresh() is False
        # pytest-httpx fails the test had the http:// jwks_uri been requested.
        assert "jwks_uri" in cache.status()["last_error"]

    async def test_keys_are_only_fetched_from_the_issuer(
        self, jwks: JwksCache, transport: IdpTransport
    ) -> None:
        await jwks.refresh()
        assert transport.unexpected == []
        assert len(transport.urls) == 2

    async def test_status_reports_the_cache(
        self, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
    ) -> None:
        assert jwks.status() == {
            "state": "starting",
            "keys_loaded": False,
            "key_count": 0,
            "stale": False,
            "issuer_reachable": False,
            "last_error": None,
            "seconds_since_refresh": None,
        }
        await jwks.refresh()
        clock.advance(12.5)
        status = jwks.status()
        assert status["state"] == "ready"
        assert status["key_count"] == len(issuer.keys)
        assert status["seconds_since_refresh"] == 12.5
        assert status["issuer_reachable"] is True
