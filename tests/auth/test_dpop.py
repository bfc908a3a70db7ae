"""RFC 9449 §4.3 DPoP proof checks at a resource server (auth._dpop, run in order by
auth._proof_steps.ProofChecker)."""

from __future__ import annotations

from typing import Any

import pytest

from auth._dpop import (
    MAX_PROOF_LENGTH,
    DpopPolicy,
    DpopProof,
    ProofKeyCache,
    access_token_hash,
    check_freshness,
    check_method,
    check_proof_signature,
    check_proof_type,
    check_target_uri,
    parse_proof,
    proof_key,
)
from auth._errors import Check, InvalidDpopProof, UseDpopNonce
from auth._htu import normalise_url
from auth._jws import SUPPORTED_ALGORITHMS
from auth._nonce import DpopNonces
from auth._proof_steps import ProofChecker
from auth._replay import MemoryReplayStore
from auth.testing import DpopKey, sign_compact
from tests.auth.fakes import API_URL, T0, FakeClock
from tests.auth.refusals import refused
from tests.auth.vectors import (
    RFC9449_FIGURE_2_PROOF,
    RFC9449_FIGURE_13_ACCESS_TOKEN,
    RFC9449_FIGURE_13_PROOF,
    RFC9449_FIGURE_14_ATH,
    RFC9449_JKT,
)

ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
ALGORITHMS = frozenset(SUPPORTED_ALGORITHMS)


class Verify:
    """A verifier's ``ProofChecker`` with a fixed clock, a replay store and overridable
    request arguments; ``policy`` and ``nonces`` are the verifier's, settable per test."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.replay = MemoryReplayStore(clock=self.clock)
        self.keys = ProofKeyCache()
        self.policy = DpopPolicy(algorithms=ALGORITHMS, max_age=60, leeway=30)

    async def __call__(
        self,
        proofs: list[str] | str,
        holder: DpopKey | None = None,
        *,
        nonces: DpopNonces | None = None,
        **overrides: Any,
    ) -> DpopProof:
        checker = ProofChecker(self.policy, replay=self.replay, nonces=nonces, key_cache=self.keys)
        arguments: dict[str, Any] = {
            "method": "GET",
            "htu": normalise_url(API_URL),
            "access_token": ACCESS_TOKEN,
            "bound_jkt": holder.jkt if holder else "",
            "now": self.clock.now,
        }
        values = [proofs] if isinstance(proofs, str) else proofs
        return await checker.verify(values, **(arguments | overrides))


@pytest.fixture
def verify() -> Verify:
    return Verify()


def _proof(holder: DpopKey, **kwargs: Any) -> str:
    kwargs.setdefault("access_token", ACCESS_TOKEN)
    kwargs.setdefault("iat", T0)
    method = kwargs.pop("method", "GET")
    url = kwargs.pop("url", API_URL)
    return holder.proof(method, url, **kwargs)


class TestPublishedExamples:
    def test_rfc9449_figure_2_proof_passes_every_structural_check(self) -> None:
        jws = parse_proof([RFC9449_FIGURE_2_PROOF], max_length=MAX_PROOF_LENGTH)
        check_proof_type(jws.header)
        key, jkt = proof_key(jws, "ES256", ProofKeyCache())
        check_proof_signature(jws, "ES256", key)
        check_method(jws.payload["htm"], "POST")
        check_target_uri(jws.payload["htu"], normalise_url("https://server.example.com/token"))
        assert check_freshness(jws.payload, now=1562262616 + 5, max_age=60, leeway=30) == (
            1562262616
        )
        # RFC 9449 §6.1: the example tokens are bound to this very key.
        assert jkt == RFC9449_JKT

    def test_rfc9449_figure_14_ath_is_the_hash_of_the_figure_13_token(self) -> None:
        assert access_token_hash(RFC9449_FIGURE_13_ACCESS_TOKEN) == RFC9449_FIGURE_14_ATH

    async def test_rfc9449_figure_13_request_verifies_end_to_end(self, verify: Verify) -> None:
        proof = await verify(
            RFC9449_FIGURE_13_PROOF,
            method="GET",
            htu=normalise_url("https://resource.example.org/protectedresource"),
            access_token=RFC9449_FIGURE_13_ACCESS_TOKEN,
            bound_jkt=RFC9449_JKT,
            now=1562262618 + 2,  # the example's iat is fixed in 2019
        )
        assert proof == DpopProof(jkt=RFC9449_JKT, jti="e1j3V_bKic8-LAEB", iat=1562262618)

    async def test_rfc9449_figure_13_proof_is_refused_for_another_request(
        self, verify: Verify
    ) -> None:
        base: dict[str, Any] = {
            "method": "GET",
            "htu": normalise_url("https://resource.example.org/protectedresource"),
            "access_token": RFC9449_FIGURE_13_ACCESS_TOKEN,
            "bound_jkt": RFC9449_JKT,
            "now": 1562262618 + 2,
        }
        refusals: list[tuple[dict[str, Any], Check]] = [
            ({"method": "POST"}, Check.DPOP_HTM),
            ({"htu": normalise_url("https://resource.example.org/other")}, Check.DPOP_HTU),
            ({"access_token": "another-token"}, Check.DPOP_ATH),
            ({"bound_jkt": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"}, Check.DPOP_JKT),
            ({"now": T0}, Check.DPOP_IAT),  # years after its iat
        ]
        for change, check in refusals:
            with refused(check, InvalidDpopProof):
                await verify(RFC9449_FIGURE_13_PROOF, **(base | change))


class TestValidProofs:
    @pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "EdDSA"])
    async def test_a_proof_of_each_asymmetric_family_verifies(
        self, verify: Verify, alg: str
    ) -> None:
        holder = DpopKey(alg)
        proof = await verify(_proof(holder), holder)
        assert proof.jkt == holder.jkt

    async def test_an_rsa_proof_verifies(self, verify: Verify, rsa_dpop_key: DpopKey) -> None:
        proof = await verify(_proof(rsa_dpop_key), rsa_dpop_key)
        assert proof.jkt == rsa_dpop_key.jkt

    async def test_surrounding_whitespace_of_the_header_is_ignored(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        await verify(f"  {_proof(dpop_key)} ", dpop_key)

    async def test_typ_compares_case_insensitively(self, verify: Verify, dpop_key: DpopKey) -> None:
        await verify(_proof(dpop_key, header={"typ": "DPoP+JWT"}), dpop_key)


class TestRefusedProofs:
    async def test_exactly_one_proof_header_is_required(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        proof = _proof(dpop_key)
        for values in ([], [proof, proof], [proof, _proof(dpop_key)]):
            with refused(Check.DPOP_HEADER, InvalidDpopProof):
                await verify(values, dpop_key)

    async def test_an_oversized_proof_is_refused_before_parsing(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        with refused(Check.DPOP_SIZE, InvalidDpopProof):
            await verify("." * (MAX_PROOF_LENGTH + 1), dpop_key)

    @pytest.mark.parametrize("typ", ["JWT", "at+jwt", "application/jwt", "text/dpop+jwt", None, 3])
    async def test_a_typ_other_than_dpop_jwt_is_refused(
        self, verify: Verify, dpop_key: DpopKey, typ: object
    ) -> None:
        # RFC 9449 §4.3 step 4 and §11.5 (signed JWT swapping).
        header: dict[str, Any] = {"typ": typ}
        proof = _proof(dpop_key, header=header)
        if typ is None:
            proof = sign_compact(
                {"alg": "ES256", "jwk": dpop_key.public_jwk},
                {"jti": "j", "htm": "GET", "htu": API_URL, "iat": T0},
                dpop_key.key,
                "ES256",
            )
        with refused(Check.DPOP_TYP, InvalidDpopProof):
            await verify(proof, dpop_key)

    @pytest.mark.parametrize("typ", ["dpop+jwt", "DPoP+JWT", "application/dpop+jwt"])
    async def test_typ_is_compared_as_a_media_type(
        self, verify: Verify, dpop_key: DpopKey, typ: str
    ) -> None:
        # RFC 7515 §4.1.9: "application/" may be omitted or present; case does not matter.
        await verify(_proof(dpop_key, header={"typ": typ}), dpop_key)

    async def test_a_critical_header_is_refused(self, verify: Verify, dpop_key: DpopKey) -> None:
        with refused(Check.DPOP_CRIT, InvalidDpopProof):
            await verify(_proof(dpop_key, header={"crit": ["exp"], "exp": 1}), dpop_key)

    async def test_an_algorithm_outside_the_policy_is_refused(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        verify.policy = DpopPolicy(algorithms=frozenset({"RS256"}))
        with refused(Check.DPOP_ALG, InvalidDpopProof):
            await verify(_proof(dpop_key), dpop_key)

    @pytest.mark.parametrize("jwk", [None, "key", ["k"]], ids=["missing", "string", "array"])
    async def test_a_proof_without_a_jwk_object_is_refused(
        self, verify: Verify, dpop_key: DpopKey, jwk: object
    ) -> None:
        header = {"typ": "dpop+jwt", "alg": "ES256"} | ({} if jwk is None else {"jwk": jwk})
        proof = sign_compact(
            header, {"jti": "j", "htm": "GET", "htu": API_URL, "iat": T0}, dpop_key.key, "ES256"
        )
        with refused(Check.DPOP_JWK, InvalidDpopProof):
            await verify(proof, dpop_key)

    async def test_a_proof_signed_by_another_key_is_refused(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        impostor = DpopKey()
        proof = impostor.proof(
            "GET", API_URL, access_token=ACCESS_TOKEN, iat=T0, header={"jwk": dpop_key.public_jwk}
        )
        with refused(Check.DPOP_SIGNATURE, InvalidDpopProof):
            await verify(proof, dpop_key)

    @pytest.mark.parametrize(
        ("claims", "check"),
        [
            ({"jti": None}, Check.DPOP_JTI),
            ({"jti": ""}, Check.DPOP_JTI),
            ({"jti": 12345}, Check.DPOP_JTI),
            ({"jti": "j" * 257}, Check.DPOP_JTI),
            ({"htm": None}, Check.DPOP_HTM),
            ({"htu": None}, Check.DPOP_HTU),
            ({"htm": ["GET"]}, Check.DPOP_HTM),
            ({"htu": 1}, Check.DPOP_HTU),
            ({"iat": None}, Check.DPOP_IAT),
            ({"iat": "1750000000"}, Check.DPOP_IAT),
        ],
    )
    async def test_required_claims_must_be_present_and_well_typed(
        self, verify: Verify, dpop_key: DpopKey, claims: dict[str, Any], check: Check
    ) -> None:
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk}
        payload = {
            "jti": "j-1",
            "htm": "GET",
            "htu": API_URL,
            "iat": T0,
            "ath": access_token_hash(ACCESS_TOKEN),
        }
        payload = {k: v for k, v in (payload | claims).items() if v is not None}
        with refused(check, InvalidDpopProof):
            await verify(sign_compact(header, payload, dpop_key.key, "ES256"), dpop_key)

    async def test_the_method_is_compared_case_sensitively(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        with refused(Check.DPOP_HTM, InvalidDpopProof):
            await verify(_proof(dpop_key, method="get"), dpop_key)

    @pytest.mark.parametrize(
        "htu", ["not a url", "ftp://api.example/todos", "https://u@api.example/todos"]
    )
    async def test_an_htu_that_is_not_an_http_url_is_refused(
        self, verify: Verify, dpop_key: DpopKey, htu: str
    ) -> None:
        with refused(Check.DPOP_HTU, InvalidDpopProof):
            await verify(_proof(dpop_key, url=htu), dpop_key)

    async def test_the_freshness_window_is_max_age_plus_leeway(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        for iat in (T0 - 90, T0 + 30):
            await verify(_proof(dpop_key, iat=iat), dpop_key)
        for iat in (T0 - 91, T0 + 31):
            with refused(Check.DPOP_IAT, InvalidDpopProof):
                await verify(_proof(dpop_key, iat=iat), dpop_key)

    @pytest.mark.parametrize(
        "ath",
        [None, 42, access_token_hash("another token"), "\u00e9" * 43, ""],
        ids=["missing", "number", "other-token", "non-ascii", "empty"],
    )
    async def test_the_access_token_hash_must_match(
        self, verify: Verify, dpop_key: DpopKey, ath: object
    ) -> None:
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk}
        payload: dict[str, Any] = {"jti": "j-1", "htm": "GET", "htu": API_URL, "iat": T0}
        if ath is not None:
            payload["ath"] = ath
        with refused(Check.DPOP_ATH, InvalidDpopProof):
            await verify(sign_compact(header, payload, dpop_key.key, "ES256"), dpop_key)

    async def test_the_proof_key_must_be_the_key_the_token_is_bound_to(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        with refused(Check.DPOP_JKT, InvalidDpopProof):
            await verify(_proof(DpopKey()), dpop_key)


class TestNonces:
    @pytest.fixture
    def nonces(self, verify: Verify) -> DpopNonces:
        return DpopNonces(secret=b"k" * 32, lifetime_seconds=300, clock=verify.clock)

    async def test_without_server_nonces_a_nonce_claim_is_ignored(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        await verify(_proof(dpop_key, nonce="anything"), dpop_key)

    async def test_a_missing_nonce_asks_for_one(
        self, verify: Verify, dpop_key: DpopKey, nonces: DpopNonces
    ) -> None:
        with refused(Check.DPOP_NONCE, UseDpopNonce) as caught:
            await verify(_proof(dpop_key), dpop_key, nonces=nonces)
        assert isinstance(caught.value, UseDpopNonce)
        assert nonces.is_valid(caught.value.nonce)

    async def test_a_current_nonce_is_accepted_and_a_stale_one_is_not(
        self, verify: Verify, dpop_key: DpopKey, nonces: DpopNonces
    ) -> None:
        nonce = nonces.current()
        await verify(_proof(dpop_key, nonce=nonce), dpop_key, nonces=nonces)
        verify.clock.advance(600)
        with refused(Check.DPOP_NONCE, UseDpopNonce):
            await verify(
                _proof(dpop_key, nonce=nonce, iat=verify.clock.now),
                dpop_key,
                nonces=nonces,
                now=verify.clock.now,
            )


class TestReplay:
    async def test_a_replayed_proof_is_rejected(self, verify: Verify, dpop_key: DpopKey) -> None:
        proof = _proof(dpop_key)
        await verify(proof, dpop_key)
        with refused(Check.DPOP_REPLAY, InvalidDpopProof):
            await verify(proof, dpop_key)

    async def test_a_refused_proof_does_not_use_up_its_jti(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        # The replay store is consulted last, so a proof presented with the wrong token
        # (or by someone without the bound key) cannot burn the legitimate request.
        proof = _proof(dpop_key)
        with refused(Check.DPOP_ATH, InvalidDpopProof):
            await verify(proof, dpop_key, access_token="other-token")
        with refused(Check.DPOP_JKT, InvalidDpopProof):
            await verify(proof, DpopKey())
        await verify(proof, dpop_key)

    async def test_the_same_jti_from_another_key_is_another_proof(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        other = DpopKey()
        await verify(_proof(dpop_key, jti="shared"), dpop_key)
        await verify(_proof(other, jti="shared"), other)

    async def test_a_proof_is_remembered_while_it_could_still_be_fresh(
        self, verify: Verify, dpop_key: DpopKey
    ) -> None:
        proof = _proof(dpop_key, iat=T0 + 30)  # as far in the future as the leeway allows
        await verify(proof, dpop_key)
        verify.clock.advance(30 + 60 + 30)  # the last instant its iat is still fresh
        with refused(Check.DPOP_REPLAY, InvalidDpopProof):
            await verify(proof, dpop_key, now=verify.clock.now)


class TestProofKeyCache:
    def test_the_same_header_is_imported_once(self, dpop_key: DpopKey) -> None:
        cache = ProofKeyCache()
        first = cache.get(dpop_key.public_jwk, header_segment="header-1")
        assert cache.get(dpop_key.public_jwk, header_segment="header-1") is first
        assert first[1] == dpop_key.jkt

    def test_proofs_with_the_same_header_share_the_imported_key(self, dpop_key: DpopKey) -> None:
        cache = ProofKeyCache()
        proofs = [parse_proof([_proof(dpop_key)], max_length=MAX_PROOF_LENGTH) for _ in range(2)]
        assert proofs[0].header_segment == proofs[1].header_segment
        first_key, _ = proof_key(proofs[0], "ES256", cache)
        second_key, _ = proof_key(proofs[1], "ES256", cache)
        assert first_key is second_key

    def test_the_cache_is_bounded(self) -> None:
        cache = ProofKeyCache(max_entries=2)
        holders = [DpopKey() for _ in range(3)]
        entries = [
            cache.get(holder.public_jwk, header_segment=str(index))
            for index, holder in enumerate(holders)
        ]
        assert cache.get(holders[2].public_jwk, header_segment="2") is entries[2]
        assert cache.get(holders[0].public_jwk, header_segment="0") is not entries[0]
