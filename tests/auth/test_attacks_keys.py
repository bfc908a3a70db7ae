"""Attacks through keys (RFC 7517 §4.2-4.3; RFC 7518 §3.3; CVE-2017-15361): the verified-
token cache against key removal and replacement, and the bounds and hygiene every
signing or proof key must meet."""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from auth._errors import (
    Check,
    InvalidDpopProof,
)
from auth._jwks import JwksCache
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, TestIssuer, sign_compact
from tests.auth.attacks import (
    Mint,
    Prove,
    bearer_request,
    claims_now,
    dpop_request,
    issuer_key,
    refused_by,
    rsa_jwk,
)
from tests.auth.fakes import FakeClock
from tests.auth.vectors import ROCA_MODULUS


async def _verified_then_rotated(
    verifier: TokenVerifier, jwks: JwksCache, token: str, rotate: Callable[[], object]
) -> None:
    """Verify ``token`` (so it is cached), change the issuer's keys, refresh them."""
    await jwks.refresh()
    await verifier.authenticate(bearer_request(token))
    rotate()
    await jwks.refresh()


async def test_a_cached_token_without_kid_is_refused_once_its_key_is_removed(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
) -> None:
    """README promise: removing a signing key revokes every token it signed at the next
    JWKS refresh, cache included; a token without kid is no exception (RFC 7515 §4.1.4
    makes kid optional)."""
    issuer.remove_key(issuer.current_kid["ES256"])  # one key: a kid-less token resolves
    old_kid, old_key = issuer_key(issuer)
    token = sign_compact(
        {"alg": "RS256", "typ": "at+jwt"}, claims_now(issuer, clock), old_key, "RS256"
    )

    def rotate() -> None:
        issuer.add_key("RS256")
        issuer.remove_key(old_kid)

    await _verified_then_rotated(verifier, jwks, token, rotate)
    await refused_by(verifier, bearer_request(token), Check.SIGNATURE)


async def test_a_cached_token_is_refused_once_its_key_is_replaced_under_the_same_kid(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, mint: Mint
) -> None:
    """An uncached copy of the token is refused by the new key material; the cached one
    must be too (the entry is bound to the RFC 7638 thumbprint, not the kid's name)."""
    token = mint()
    kid, _ = issuer_key(issuer)

    def replace() -> None:
        issuer.keys[kid] = ("RS256", RSAKey.generate_key(2048))

    await _verified_then_rotated(verifier, jwks, token, replace)
    await refused_by(verifier, bearer_request(token), Check.SIGNATURE)


async def test_a_cached_token_is_refused_once_its_kid_names_another_published_key(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, mint: Mint
) -> None:
    """The key that verified the token moves to another kid: a fresh verification looks
    the token's kid up and finds nothing; the cache must answer the same."""
    token = mint()
    kid, key = issuer_key(issuer)

    def move() -> None:
        issuer.keys["moved"] = issuer.keys.pop(kid)

    await _verified_then_rotated(verifier, jwks, token, move)
    await refused_by(verifier, bearer_request(token), Check.KID)
    assert key is issuer.keys["moved"][1]


async def test_a_cached_token_stays_valid_while_its_key_is_published(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, mint: Mint
) -> None:
    """Rotation adds keys and removes others; tokens of keys still published keep working
    from the cache (no verification work) and after a refresh."""
    token = mint()
    await _verified_then_rotated(verifier, jwks, token, lambda: issuer.add_key("ES256"))
    await verifier.authenticate(bearer_request(token))


@pytest.fixture(scope="module")
def huge_exponent_key() -> DpopKey:
    """A real 3072-bit RSA key whose public exponent has 3071 bits: every signature
    check with it costs about five times a normal one."""
    base = rsa.generate_private_key(65537, 3072).private_numbers()
    p, q = base.p, base.q
    phi = (p - 1) * (q - 1)
    e = (1 << 3070) | 1
    while math.gcd(e, phi) != 1:
        e += 2
    d = pow(e, -1, phi)
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return DpopKey("RS256", RSAKey.import_key(numbers.private_key()))


async def test_a_proof_key_with_a_huge_exponent_is_refused_before_any_signature_check(
    verifier: TokenVerifier, mint: Mint, prove: Prove, huge_exponent_key: DpopKey
) -> None:
    """RFC 8725 §3.1 spirit: a proof must not cost the server what its sender chooses. The
    exponent is bounded (odd, 65537 <= e < 2**32), so no RSA operation is ever done."""
    token = mint(dpop_key=huge_exponent_key)
    proof = prove(huge_exponent_key, access_token=token)
    await refused_by(verifier, dpop_request(token, proof), Check.DPOP_JWK_SIZE, InvalidDpopProof)


@pytest.mark.parametrize(
    ("bits", "e"),
    [(4104, 65537), (8192, 65537), (2048, 3), (2048, 65536), (2048, 1 << 32 | 1), (2048, 1)],
    ids=["4104-bit", "8192-bit", "e=3", "even-e", "e=2**32+1", "e=1"],
)
async def test_rsa_proof_keys_outside_the_bounds_are_refused(
    *, verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey, bits: int, e: int
) -> None:
    """Modulus at most 4096 bits, exponent odd in [65537, 2**32): checked on the jwk
    before it is imported, so the signature below (by another key) is never looked at."""
    n = secrets.randbits(bits) | (1 << (bits - 1)) | 1
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token, header={"alg": "RS256", "jwk": rsa_jwk(n, e)})
    await refused_by(verifier, dpop_request(token, proof), Check.DPOP_JWK_SIZE, InvalidDpopProof)


@pytest.mark.parametrize(
    "members",
    [
        {"use": "enc"},
        {"use": None},
        {"key_ops": ["sign"]},
        {"key_ops": []},
        {"key_ops": "verify"},
        {"key_ops": None},
        {"key_ops": ["verify", "verify"]},
        {"key_ops": ["verify", 1]},
    ],
    ids=[
        "use-enc",
        "use-null",
        "key-ops-sign",
        "key-ops-empty",
        "key-ops-string",
        "key-ops-null",
        "key-ops-duplicate",
        "key-ops-not-strings",
    ],
)
async def test_a_proof_jwk_not_meant_for_verifying_signatures_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey, members: dict[str, Any]
) -> None:
    """RFC 7517 §4.2-4.3 (use, key_ops, no duplicate operations), as for the issuer's
    keys: a key its owner marked for another purpose does not prove possession."""
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token, header={"jwk": dpop_key.public_jwk | members})
    await refused_by(verifier, dpop_request(token, proof), Check.DPOP_JWK_USE, InvalidDpopProof)


async def test_a_proof_jwk_with_use_sig_and_key_ops_verify_is_accepted(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    token = mint(dpop_key=dpop_key)
    jwk = dpop_key.public_jwk | {"use": "sig", "key_ops": ["verify"]}
    await verifier.authenticate(
        dpop_request(token, prove(dpop_key, access_token=token, header={"jwk": jwk}))
    )


async def test_a_roca_vulnerable_proof_key_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """CVE-2017-15361 (Nemec et al., CCS 2017): the modulus can be factored, so its
    "proof" proves nothing. The published test modulus of the ROCA detector."""
    token = mint(dpop_key=dpop_key)
    proof = prove(
        dpop_key, access_token=token, header={"alg": "RS256", "jwk": rsa_jwk(ROCA_MODULUS)}
    )
    await refused_by(
        verifier, dpop_request(token, proof), Check.DPOP_JWK_VULNERABLE, InvalidDpopProof
    )
