"""Attacks on algorithm and key selection (RFC 8725 §2.1, §3.1-3.3, §3.10; RFC 9068 §4
step 5; RFC 9449 §4.3 steps 5-6): "none", HMAC keyed with a public key, keys the token
names or carries, kid injection, forged and malleable signatures. The identity provider
is a transport that records every URL it is asked for, so the tests prove that nothing
named inside a token is ever fetched."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from auth._dpop import access_token_hash
from auth._errors import (
    Check,
    InvalidDpopProof,
)
from auth._jws import b64url_encode
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, TestIssuer, sign_compact
from tests.auth.attacks import (
    Mint,
    Prove,
    bearer_request,
    claims_now,
    dpop_request,
    hmac_token,
    issuer_key,
    public_key_secrets,
    refused_by,
    segment,
)
from tests.auth.fakes import API_URL, FakeClock, IdpTransport


@pytest.fixture(scope="module")
def attacker_rsa() -> RSAKey:
    return RSAKey.generate_key(2048)


# Order of the P-256 group: r = s = n is as invalid as r = s = 0.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


# An unsigned JWS (empty signature) is not even well-formed; a signed one fails the
# algorithm allow-list.
UNSIGNED_OR_SIGNED = pytest.mark.parametrize(
    ("signature", "check"),
    [("", Check.FORMAT), (b64url_encode(b"sig"), Check.ALG)],
    ids=["unsigned", "signed"],
)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@UNSIGNED_OR_SIGNED
async def test_alg_none_in_any_case_is_refused(
    *,
    verifier: TokenVerifier,
    issuer: TestIssuer,
    clock: FakeClock,
    transport: IdpTransport,
    alg: str,
    signature: str,
    check: Check,
) -> None:
    """RFC 8725 §2.1 / §3.1 (allow-list, case-sensitive names); RFC 9068 §4 step 5."""
    kid, _ = issuer_key(issuer)
    header = {"alg": alg, "typ": "at+jwt", "kid": kid}
    payload = claims_now(issuer, clock)
    token = f"{segment(header)}.{segment(payload)}.{signature}"
    await refused_by(verifier, bearer_request(token), check)
    assert transport.urls == []  # refused before any key was even looked up


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize(
    ("signature", "check"),
    [("", Check.DPOP_FORMAT), (b64url_encode(b"sig"), Check.DPOP_ALG)],
    ids=["unsigned", "signed"],
)
async def test_a_proof_with_alg_none_is_refused(
    *,
    verifier: TokenVerifier,
    mint: Mint,
    dpop_key: DpopKey,
    clock: FakeClock,
    alg: str,
    signature: str,
    check: Check,
) -> None:
    """RFC 9449 §4.3 step 5 and §11.6: "none" MUST NOT be allowed."""
    token = mint(dpop_key=dpop_key)
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": dpop_key.public_jwk}
    payload = {
        "jti": "j",
        "htm": "GET",
        "htu": API_URL,
        "iat": clock.now,
        "ath": access_token_hash(token),
    }
    proof = f"{segment(header)}.{segment(payload)}.{signature}"
    await refused_by(verifier, dpop_request(token, proof), check, InvalidDpopProof)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_keyed_with_the_issuers_public_key_is_refused(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, alg: str
) -> None:
    """RFC 8725 §2.1 (RS256 -> HS256 with the public key as secret) and §3.1."""
    kid, key = issuer_key(issuer)
    for secret in public_key_secrets(key).values():
        token = hmac_token(
            {"alg": alg, "typ": "at+jwt", "kid": kid}, claims_now(issuer, clock), secret
        )
        await refused_by(verifier, bearer_request(token), Check.ALG)


async def test_a_proof_mac_keyed_with_its_own_jwk_is_refused(
    verifier: TokenVerifier, mint: Mint, rsa_dpop_key: DpopKey, clock: FakeClock
) -> None:
    """RFC 9449 §4.2 (alg MUST NOT be a MAC) and §4.3 step 5."""
    token = mint(dpop_key=rsa_dpop_key)
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": rsa_dpop_key.public_jwk}
    payload = {
        "jti": "j",
        "htm": "GET",
        "htu": API_URL,
        "iat": clock.now,
        "ath": access_token_hash(token),
    }
    for secret in public_key_secrets(rsa_dpop_key.key).values():
        await refused_by(
            verifier,
            dpop_request(token, hmac_token(header, payload, secret)),
            Check.DPOP_ALG,
            InvalidDpopProof,
        )


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "https://evil.example/jwks.json"},
        {"x5u": "https://evil.example/cert.pem"},
        {"x5c": ["MIIBszCCAVmgAwIBAgIUevil"]},
        {"jku": "https://issuer.test/realms/todo/protocol/openid-connect/certs"},
    ],
    ids=["jku", "x5u", "x5c", "jku-pointing-at-the-real-issuer"],
)
async def test_keys_referenced_by_the_token_are_never_fetched(
    *,
    verifier: TokenVerifier,
    issuer: TestIssuer,
    clock: FakeClock,
    transport: IdpTransport,
    attacker_rsa: RSAKey,
    header: dict[str, Any],
) -> None:
    """RFC 8725 §2.9 / §3.10 (no blind jku/x5u: SSRF); RFC 9068 §4 step 5 (only the
    issuer's keys)."""
    await verifier.start()  # keys loaded: any further request would be the token's doing
    loaded = list(transport.urls)
    token = sign_compact(
        {"alg": "RS256", "typ": "at+jwt", "kid": "attacker", **header},
        claims_now(issuer, clock),
        attacker_rsa,
        "RS256",
    )
    await refused_by(verifier, bearer_request(token), Check.EMBEDDED_KEY)
    assert transport.urls == loaded
    assert transport.unexpected == []
    await verifier.aclose()


async def test_an_embedded_jwk_is_never_used(
    verifier: TokenVerifier,
    issuer: TestIssuer,
    clock: FakeClock,
    transport: IdpTransport,
    attacker_rsa: RSAKey,
) -> None:
    """RFC 8725 §3.10; RFC 9068 §4 step 5: a token signed by the key it carries."""
    kid, _ = issuer_key(issuer)
    for header_kid in (kid, None):
        header: dict[str, Any] = {
            "alg": "RS256",
            "typ": "at+jwt",
            "jwk": dict(attacker_rsa.as_dict(private=False)),
        }
        if header_kid:
            header["kid"] = header_kid
        token = sign_compact(header, claims_now(issuer, clock), attacker_rsa, "RS256")
        await refused_by(verifier, bearer_request(token), Check.EMBEDDED_KEY)
    assert transport.unexpected == []


async def test_a_jku_in_a_proof_header_is_never_followed(
    verifier: TokenVerifier,
    mint: Mint,
    prove: Prove,
    dpop_key: DpopKey,
    transport: IdpTransport,
) -> None:
    """RFC 9449 §4.3 step 6: the proof verifies with its jwk; other key references are
    extension parameters (§4.2) and are never dereferenced (RFC 8725 §3.10)."""
    token = mint(dpop_key=dpop_key)
    proof = prove(
        dpop_key,
        access_token=token,
        header={"jku": "https://evil.example/k", "x5u": "https://evil.example/c"},
    )
    await verifier.authenticate(dpop_request(token, proof))
    assert transport.unexpected == []


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../../../dev/null",
        "/etc/passwd",
        "' OR '1'='1' --",
        "x'; DROP TABLE keys; --",
        "k" * 256,
        "k" * 257,
        "k" * 10_000,
        "",
        "\u0000",
        42,
        True,
        ["kid"],
        {"$ne": None},
    ],
    ids=[
        "traversal",
        "absolute-path",
        "sql",
        "sql-drop",
        "longest-allowed",
        "too-long",
        "huge",
        "empty",
        "nul",
        "int",
        "bool",
        "array",
        "object",
    ],
)
async def test_kid_injection_is_only_ever_a_dictionary_miss(
    verifier: TokenVerifier,
    issuer: TestIssuer,
    clock: FakeClock,
    transport: IdpTransport,
    kid: object,
) -> None:
    """RFC 8725 §2.9 / §3.10: the kid is untrusted input; here it is only ever a key
    into the issuer's JWKS, and a miss costs at most one refetch per cooldown."""
    await verifier.start()
    clock.advance(60)  # past the refetch cooldown
    _, key = issuer_key(issuer)
    for _ in range(3):
        token = sign_compact(
            {"alg": "RS256", "typ": "at+jwt", "kid": kid}, claims_now(issuer, clock), key, "RS256"
        )
        await refused_by(verifier, bearer_request(token), Check.KID)
    assert issuer.jwks_requests <= 2
    assert transport.unexpected == []
    await verifier.aclose()


async def test_a_token_signed_by_a_key_outside_the_jwks_is_refused(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, attacker_rsa: RSAKey
) -> None:
    """RFC 9068 §4 step 5 and RFC 8725 §3.8: the issuer's published keys only, whatever
    kid the token claims."""
    kid, _ = issuer_key(issuer)
    for claimed_kid, check in ((kid, Check.SIGNATURE), ("attacker-kid", Check.KID)):
        token = sign_compact(
            {"alg": "RS256", "typ": "at+jwt", "kid": claimed_kid},
            claims_now(issuer, clock),
            attacker_rsa,
            "RS256",
        )
        await refused_by(verifier, bearer_request(token), check)


@pytest.mark.parametrize(
    "signature",
    [
        b"\x00" * 64,
        P256_ORDER.to_bytes(32, "big") * 2,
        b"\x00" * 32 + b"\x01" * 32,
    ],
    ids=["r=s=0", "r=s=n", "r=0"],
)
async def test_a_psychic_ecdsa_signature_is_refused(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, signature: bytes
) -> None:
    """CVE-2022-21449 ("psychic signatures"); RFC 8725 §3.3: every signature is
    actually verified; r and s must lie in [1, n-1]."""
    kid, _ = issuer_key(issuer, "ES256")
    header = b64url_encode(json.dumps({"alg": "ES256", "typ": "at+jwt", "kid": kid}).encode())
    payload = b64url_encode(json.dumps(claims_now(issuer, clock)).encode())
    await refused_by(
        verifier, bearer_request(f"{header}.{payload}.{b64url_encode(signature)}"), Check.SIGNATURE
    )


@pytest.mark.parametrize(
    ("alg", "change"),
    [
        ("ES256", lambda sig: sig[:-1]),
        ("ES256", lambda sig: sig + b"\x00"),
        ("ES256", lambda sig: sig + sig),
        ("ES256", lambda sig: b"\x00" + sig[:32] + b"\x00" + sig[32:]),
        ("RS256", lambda sig: sig[:-1]),
        ("RS256", lambda sig: sig + b"\x00"),
        ("RS256", lambda sig: b"\x00" + sig),
    ],
    ids=[
        "es-short",
        "es-long",
        "es-doubled",
        "es-padded-halves",
        "rs-short",
        "rs-long",
        "rs-leading-zero",
    ],
)
async def test_a_signature_of_the_wrong_length_is_refused(
    verifier: TokenVerifier, mint: Mint, alg: str, change: Callable[[bytes], bytes]
) -> None:
    """RFC 7518 §3.4 (ES256 signatures are exactly 64 bytes, R || S) and §3.3 (RSA
    signatures are the modulus length); RFC 8725 §3.3."""
    token = mint(alg=alg)
    signing_input, signature = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    await refused_by(
        verifier, bearer_request(f"{signing_input}.{b64url_encode(change(raw))}"), Check.SIGNATURE
    )
