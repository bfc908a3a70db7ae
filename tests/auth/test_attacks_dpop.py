"""Attacks on DPoP proofs (RFC 9449 §4.3, §7, §9, §11): replay, proofs for another
request, key and token binding, the proof's own key, time window, forwarded headers
and server nonces."""

from __future__ import annotations

import asyncio

import pytest
from joserfc.jwk import OctKey

from auth._dpop import access_token_hash
from auth._errors import (
    Check,
    InvalidDpopProof,
    UseDpopNonce,
)
from auth._nonce import DpopNonces
from auth._principal import Principal
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, sign_compact
from tests.auth.attacks import (
    MakeVerifier,
    Mint,
    Prove,
    dpop_request,
    refused_by,
)
from tests.auth.fakes import API_URL, FakeClock
from tests.auth.vectors import RFC9449_FIGURE_13_PROOF, RFC9449_JKT


async def test_a_replayed_proof_is_rejected(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §11.1: a proof is accepted once within its window."""
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token)
    await verifier.authenticate(dpop_request(token, proof))
    await refused_by(verifier, dpop_request(token, proof), Check.DPOP_REPLAY, InvalidDpopProof)


async def test_concurrent_replays_of_one_proof_have_exactly_one_winner(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §11.1: two requests racing with the same proof; exactly one is served."""
    token = mint(dpop_key=dpop_key)
    request = dpop_request(token, prove(dpop_key, access_token=token))
    results = await asyncio.gather(
        *(verifier.authenticate(request) for _ in range(10)), return_exceptions=True
    )
    winners = [result for result in results if isinstance(result, Principal)]
    losers = [result for result in results if isinstance(result, InvalidDpopProof)]
    assert (len(winners), len(losers)) == (1, 9)


async def test_a_published_proof_captured_elsewhere_is_refused_here(
    verifier: TokenVerifier, mint: Mint
) -> None:
    """RFC 9449 §11.1 and §4.3 step 9: the §7.1 example proof (Figure 13), replayed here
    with a token bound to the very same key (RFC 9449 §6.1's jkt), was made for
    https://resource.example.org/protectedresource in 2019 and for another token."""
    token = mint(cnf={"jkt": RFC9449_JKT})
    await refused_by(
        verifier, dpop_request(token, RFC9449_FIGURE_13_PROOF), Check.DPOP_HTU, InvalidDpopProof
    )
    at_its_url = dpop_request(
        token, RFC9449_FIGURE_13_PROOF, url="https://resource.example.org/protectedresource"
    )
    await refused_by(verifier, at_its_url, Check.DPOP_IAT, InvalidDpopProof)


async def test_a_proof_carrying_its_private_key_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.2 and §4.3 step 7: the jwk MUST NOT contain a private key."""
    token = mint(dpop_key=dpop_key)
    private = dict(dpop_key.key.as_dict(private=True))
    await refused_by(
        verifier,
        dpop_request(token, prove(dpop_key, access_token=token, header={"jwk": private})),
        Check.DPOP_JWK_PRIVATE,
        InvalidDpopProof,
    )


@pytest.mark.parametrize("ext", ["false", "true", 0, None])
async def test_a_proof_whose_jwk_has_a_malformed_ext_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey, ext: object
) -> None:
    """WebCrypto's ``ext`` is a boolean; ``"false"`` as a string is a malformed key (as
    panva/jose has it), not an absent member."""
    token = mint(dpop_key=dpop_key)
    jwk = {**dpop_key.public_jwk, "ext": ext}
    await refused_by(
        verifier,
        dpop_request(token, prove(dpop_key, access_token=token, header={"jwk": jwk})),
        Check.DPOP_JWK_USE,
        InvalidDpopProof,
    )


async def test_a_proof_with_a_symmetric_jwk_is_refused(
    verifier: TokenVerifier, mint: Mint, dpop_key: DpopKey, clock: FakeClock
) -> None:
    """RFC 9449 §4.2: the key is asymmetric; an oct jwk would be the MAC secret itself."""
    token = mint(dpop_key=dpop_key)
    secret = OctKey.generate_key(256)
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": dict(secret.as_dict(private=True))}
    payload = {
        "jti": "j",
        "htm": "GET",
        "htu": API_URL,
        "iat": clock.now,
        "ath": access_token_hash(token),
    }
    await refused_by(
        verifier,
        dpop_request(token, sign_compact(header, payload, secret, "HS256")),
        Check.DPOP_ALG,
        InvalidDpopProof,
    )
    header["alg"] = "ES256"
    await refused_by(
        verifier,
        dpop_request(token, sign_compact(header, payload, dpop_key.key, "ES256")),
        Check.DPOP_JWK_PRIVATE,
        InvalidDpopProof,
    )


async def test_a_proof_whose_alg_does_not_fit_its_jwk_is_refused(
    verifier: TokenVerifier,
    mint: Mint,
    prove: Prove,
    dpop_key: DpopKey,
    rsa_dpop_key: DpopKey,
) -> None:
    """RFC 8725 §3.1 (the key must fit the algorithm); RFC 9449 §4.3 steps 5-6."""
    token = mint(dpop_key=dpop_key)
    es256_with_rsa_jwk = prove(
        dpop_key, access_token=token, header={"jwk": rsa_dpop_key.public_jwk}
    )
    await refused_by(
        verifier, dpop_request(token, es256_with_rsa_jwk), Check.DPOP_JWK, InvalidDpopProof
    )
    rs256_with_ec_jwk = prove(rsa_dpop_key, access_token=token, header={"jwk": dpop_key.public_jwk})
    await refused_by(
        verifier, dpop_request(token, rs256_with_ec_jwk), Check.DPOP_JWK, InvalidDpopProof
    )


async def test_a_proof_by_a_key_other_than_the_bound_one_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3 step 12 and §6.1: a stolen token with the thief's own valid proof."""
    token = mint(dpop_key=dpop_key)
    thief = DpopKey()
    await refused_by(
        verifier,
        dpop_request(token, prove(thief, access_token=token)),
        Check.DPOP_JKT,
        InvalidDpopProof,
    )


@pytest.mark.parametrize(
    ("method", "url", "check"),
    [
        ("POST", API_URL, Check.DPOP_HTM),
        ("get", API_URL, Check.DPOP_HTM),
        ("GET", "https://api.example/todos/1", Check.DPOP_HTU),
        ("GET", "https://api.example/Todos", Check.DPOP_HTU),
        ("GET", "https://other.example/todos", Check.DPOP_HTU),
        ("GET", "https://api.example:8443/todos", Check.DPOP_HTU),
        ("GET", "http://api.example/todos", Check.DPOP_HTU),
        ("GET", "https://api.example.evil.example/todos", Check.DPOP_HTU),
    ],
    ids=["method", "method-case", "path", "path-case", "host", "port", "scheme", "host-suffix"],
)
async def test_a_proof_for_another_request_is_refused(
    *,
    verifier: TokenVerifier,
    mint: Mint,
    prove: Prove,
    dpop_key: DpopKey,
    method: str,
    url: str,
    check: Check,
) -> None:
    """RFC 9449 §4.3 steps 8-9 and §11 (binding to method and URI)."""
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, method, url, access_token=token)
    await refused_by(verifier, dpop_request(token, proof), check, InvalidDpopProof)


@pytest.mark.parametrize(
    "htu",
    [
        f"{API_URL}?page=2",
        f"{API_URL}#section",
        f"{API_URL}?a=1#b",
        "HTTPS://API.EXAMPLE/todos",
        "https://api.example:443/todos",
        "https://api.example/%74%6f%64%6f%73",
        "https://api.example/x/../todos",
        "https://api.example/./todos",
    ],
    ids=[
        "query",
        "fragment",
        "both",
        "case",
        "default-port",
        "unreserved-escapes",
        "dot-dot",
        "dot",
    ],
)
async def test_equivalent_htu_forms_are_accepted(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey, htu: str
) -> None:
    """RFC 9449 §4.3 step 9 (query and fragment ignored) and the normalisation it
    recommends (RFC 3986 §6.2.2-6.2.3) against false negatives."""
    token = mint(dpop_key=dpop_key)
    await verifier.authenticate(
        dpop_request(token, prove(dpop_key, "GET", htu, access_token=token))
    )


async def test_the_request_url_is_normalised_too(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3: both sides are normalised before comparison."""
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token)
    await verifier.authenticate(
        dpop_request(token, proof, url="https://API.example:443/./todos?page=3")
    )


@pytest.mark.parametrize(
    "offset", [-91, -3600, 31, 3600], ids=["old", "hour-old", "future", "hour-ahead"]
)
async def test_a_proof_outside_its_time_window_is_refused(
    *,
    verifier: TokenVerifier,
    mint: Mint,
    prove: Prove,
    dpop_key: DpopKey,
    clock: FakeClock,
    offset: int,
) -> None:
    """RFC 9449 §4.3 step 11 and §11.1 (max age 60 s plus 30 s leeway either way)."""
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token, iat=clock.now + offset)
    await refused_by(verifier, dpop_request(token, proof), Check.DPOP_IAT, InvalidDpopProof)


async def test_a_proof_without_ath_or_for_another_token_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3 step 12 and §7: ath binds the proof to this very token (a proof made
    for the user's other token, bound to the same key, must not work)."""
    token = mint(dpop_key=dpop_key)
    other_token = mint("alice", dpop_key=dpop_key, scope="openid todo:admin")
    for proof in (prove(dpop_key), prove(dpop_key, access_token=other_token)):
        await refused_by(verifier, dpop_request(token, proof), Check.DPOP_ATH, InvalidDpopProof)


async def test_two_proof_headers_are_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3 step 1: not more than one DPoP header field."""
    token = mint(dpop_key=dpop_key)
    good = prove(dpop_key, access_token=token)
    other = prove(dpop_key, "POST", access_token=token)
    for proofs in ((good, good), (good, other), (other, good)):
        await refused_by(
            verifier, dpop_request(token, *proofs), Check.DPOP_HEADER, InvalidDpopProof
        )


@pytest.mark.parametrize("separator", [",", ", ", " , "])
async def test_two_proofs_joined_in_one_header_are_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey, separator: str
) -> None:
    """RFC 9449 §4.3 step 2: the field value is a single JWT (a proxy may fold repeated
    fields into one comma-separated value)."""
    token = mint(dpop_key=dpop_key)
    joined = separator.join(
        [prove(dpop_key, access_token=token), prove(dpop_key, access_token=token)]
    )
    await refused_by(verifier, dpop_request(token, joined), Check.DPOP_FORMAT, InvalidDpopProof)


FORWARDED_HEADERS = [
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "api.example"),
    ("forwarded", "proto=https;host=api.example"),
]


INTERNAL_URL = "http://app:8000/todos"


async def test_untrusted_forwarded_headers_do_not_change_the_expected_htu(
    make_verifier: MakeVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3 step 9: htu is the URI of this request; a client cannot redefine
    it with Forwarded (RFC 7239) or X-Forwarded-* unless it is a configured proxy."""
    for verifier in (make_verifier(), make_verifier(trusted_proxies="10.0.0.0/8")):
        token = mint(dpop_key=dpop_key)
        spoofed = prove(dpop_key, access_token=token)  # for https://api.example/todos
        await refused_by(
            verifier,
            dpop_request(
                token, spoofed, url=INTERNAL_URL, headers=FORWARDED_HEADERS, peer="203.0.113.9"
            ),
            Check.DPOP_HTU,
            InvalidDpopProof,
        )
        honest = prove(dpop_key, "GET", INTERNAL_URL, access_token=token)
        await verifier.authenticate(
            dpop_request(
                token, honest, url=INTERNAL_URL, headers=FORWARDED_HEADERS, peer="203.0.113.9"
            )
        )


@pytest.mark.parametrize(
    "headers", [FORWARDED_HEADERS[:2], FORWARDED_HEADERS[2:]], ids=["x-forwarded", "forwarded"]
)
async def test_a_trusted_proxys_forwarded_headers_set_the_expected_htu(
    make_verifier: MakeVerifier,
    mint: Mint,
    prove: Prove,
    dpop_key: DpopKey,
    headers: list[tuple[str, str]],
) -> None:
    """RFC 9449 §4.3 step 9 behind a TLS-terminating proxy (RFC 7239 §5.3-5.4)."""
    verifier = make_verifier(trusted_proxies="10.0.0.0/8")
    token = mint(dpop_key=dpop_key)
    request = {"url": INTERNAL_URL, "headers": headers, "peer": "10.1.2.3"}
    await verifier.authenticate(dpop_request(token, prove(dpop_key, access_token=token), **request))
    internal = prove(dpop_key, "GET", INTERNAL_URL, access_token=token)
    await refused_by(
        verifier, dpop_request(token, internal, **request), Check.DPOP_HTU, InvalidDpopProof
    )


async def test_a_client_value_before_the_trusted_proxys_own_is_ignored(
    make_verifier: MakeVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 7239 §4: proxies append; the first element may be the client's own."""
    verifier = make_verifier(trusted_proxies="10.0.0.0/8")
    token = mint(dpop_key=dpop_key)
    headers = [("forwarded", "proto=https;host=evil.example, proto=https;host=api.example")]
    request = {"url": INTERNAL_URL, "headers": headers, "peer": "10.1.2.3"}
    evil = prove(dpop_key, "GET", "https://evil.example/todos", access_token=token)
    await refused_by(
        verifier, dpop_request(token, evil, **request), Check.DPOP_HTU, InvalidDpopProof
    )
    await verifier.authenticate(dpop_request(token, prove(dpop_key, access_token=token), **request))


class TestServerNonces:
    """RFC 9449 §9 (resource-server nonces), §11.2 (pre-generated proofs), §11.3 (no
    proof without the nonce once nonces are in use)."""

    @pytest.fixture
    def verifier(self, make_verifier: MakeVerifier) -> TokenVerifier:
        return make_verifier(dpop_nonce=True, dpop_nonce_secret="resource-server-secret")

    async def test_a_proof_without_a_nonce_gets_use_dpop_nonce(
        self, verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
    ) -> None:
        token = mint(dpop_key=dpop_key)
        error = await refused_by(
            verifier,
            dpop_request(token, prove(dpop_key, access_token=token)),
            Check.DPOP_NONCE,
            UseDpopNonce,
        )
        assert isinstance(error, UseDpopNonce)
        assert error.nonce

    @pytest.mark.parametrize(
        "nonce",
        ["eyJ7S_zG.eyJH0-Z.HX4w-7v", "", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
        ids=["rfc9449-figure-24-value", "empty", "forged"],
    )
    async def test_a_nonce_this_server_did_not_issue_is_refused(
        self, verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey, nonce: str
    ) -> None:
        token = mint(dpop_key=dpop_key)
        await refused_by(
            verifier,
            dpop_request(token, prove(dpop_key, access_token=token, nonce=nonce)),
            Check.DPOP_NONCE,
            UseDpopNonce,
        )

    async def test_a_nonce_of_another_server_is_refused(
        self,
        verifier: TokenVerifier,
        mint: Mint,
        prove: Prove,
        dpop_key: DpopKey,
        clock: FakeClock,
    ) -> None:
        foreign = DpopNonces(secret=b"another server", clock=clock).current()
        token = mint(dpop_key=dpop_key)
        await refused_by(
            verifier,
            dpop_request(token, prove(dpop_key, access_token=token, nonce=foreign)),
            Check.DPOP_NONCE,
            UseDpopNonce,
        )

    async def test_a_current_nonce_is_accepted_and_goes_stale(
        self,
        verifier: TokenVerifier,
        mint: Mint,
        prove: Prove,
        dpop_key: DpopKey,
        clock: FakeClock,
    ) -> None:
        [(_, nonce)] = verifier.response_headers()
        token = mint(dpop_key=dpop_key, exp=int(clock.now) + 3600)
        await verifier.authenticate(
            dpop_request(token, prove(dpop_key, access_token=token, nonce=nonce))
        )
        clock.advance(600)  # two nonce lifetimes later: a pre-generated proof is useless
        error = await refused_by(
            verifier,
            dpop_request(token, prove(dpop_key, access_token=token, nonce=nonce)),
            Check.DPOP_NONCE,
            UseDpopNonce,
        )
        assert isinstance(error, UseDpopNonce)
        assert error.nonce != nonce
