"""Adversarial suite: known JWT and DPoP attacks against the real verifier.

Every test names the section it enforces: RFC 8725 (JWT BCP), RFC 9068 §4 (validating
JWT access tokens), RFC 9449 §4.3 / §7 / §9 / §11 (DPoP), RFC 7515 / 7519 (JWS, JWT).
The identity provider is a mock transport that records every URL it is asked for, so
tests can prove that nothing named inside a token is ever fetched.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import OctKey, RSAKey

from auth.access_token import MAX_TOKEN_LENGTH, AccessTokenPolicy, verify_access_token
from auth.credentials import HttpRequest
from auth.dpop import access_token_hash
from auth.errors import (
    AuthError,
    Check,
    InvalidDpopProof,
    InvalidRequest,
    InvalidToken,
    UseDpopNonce,
)
from auth.jwks import JwksCache
from auth.jws import SUPPORTED_ALGORITHMS, b64url_encode
from auth.nonce import DpopNonces
from auth.principal import Principal
from auth.testing import DpopKey, TestIssuer, sign_compact
from auth.verifier import TokenVerifier
from tests.auth.fakes import API_URL, FakeClock, IdpTransport, http_request
from tests.auth.refusals import refused
from tests.auth.vectors import RFC9449_FIGURE_13_PROOF, RFC9449_JKT, ROCA_MODULUS

Mint = Callable[..., str]
Prove = Callable[..., str]
MakeVerifier = Callable[..., TokenVerifier]

# Order of the P-256 group: r = s = n is as invalid as r = s = 0.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.fixture(scope="module")
def attacker_rsa() -> RSAKey:
    return RSAKey.generate_key(2048)


def _bearer(token: str, **kwargs: Any) -> HttpRequest:
    return http_request(authorization=[f"Bearer {token}"], **kwargs)


def _dpop(token: str, *proofs: str, **kwargs: Any) -> HttpRequest:
    return http_request(authorization=[f"DPoP {token}"], proofs=list(proofs), **kwargs)


async def _refused(
    verifier: TokenVerifier,
    request: HttpRequest,
    check: Check,
    error: type[AuthError] = InvalidToken,
) -> AuthError:
    with refused(check, error) as caught:
        await verifier.authenticate(request)
    return caught.value


def _policy(issuer: TestIssuer) -> AccessTokenPolicy:
    return AccessTokenPolicy(
        issuer=issuer.issuer, audience=issuer.audience, algorithms=frozenset(SUPPORTED_ALGORITHMS)
    )


def _issuer_key(issuer: TestIssuer, alg: str = "RS256") -> tuple[str, Any]:
    kid = issuer.current_kid[alg]
    return kid, issuer.keys[kid][1]


def _claims(issuer: TestIssuer, clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    return issuer.claims(iat=int(clock.now), exp=int(clock.now) + 300, **overrides)


def _sign_raw(issuer: TestIssuer, header: bytes, payload: bytes, alg: str = "RS256") -> str:
    _, key = _issuer_key(issuer, alg)
    return sign_compact(header, payload, key, alg)


def _segment(value: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(value).encode())


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def _raw_json(raw_members: str, members: dict[str, Any]) -> bytes:
    """A JSON object text: hand-written ``raw_members`` (duplicates, NaN...) first."""
    return ("{" + raw_members + "," + json.dumps(members)[1:]).encode()


def _hmac_token(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    mac = hmac.new(secret, signing_input.encode(), digest[header["alg"]]).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


# --- alg "none" --------------------------------------------------------------------------


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
    kid, _ = _issuer_key(issuer)
    header = {"alg": alg, "typ": "at+jwt", "kid": kid}
    payload = _claims(issuer, clock)
    token = f"{_segment(header)}.{_segment(payload)}.{signature}"
    await _refused(verifier, _bearer(token), check)
    assert transport.urls == []  # refused before any key was even looked up


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@UNSIGNED_OR_SIGNED
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
    proof = f"{_segment(header)}.{_segment(payload)}.{signature}"
    await _refused(verifier, _dpop(token, proof), Check(f"dpop.{check}"), InvalidDpopProof)


# --- HMAC keyed with the public key ------------------------------------------------------


def _public_key_secrets(key: Any) -> dict[str, bytes]:
    public = key.get_op_key("verify")
    return {
        "spki-pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pkcs1-pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "jwk-json": json.dumps(key.as_dict(private=False)).encode(),
        "jwk-json-compact": json.dumps(key.as_dict(private=False), separators=(",", ":")).encode(),
    }


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_keyed_with_the_issuers_public_key_is_refused(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, alg: str
) -> None:
    """RFC 8725 §2.1 (RS256 -> HS256 with the public key as secret) and §3.1."""
    kid, key = _issuer_key(issuer)
    for secret in _public_key_secrets(key).values():
        token = _hmac_token(
            {"alg": alg, "typ": "at+jwt", "kid": kid}, _claims(issuer, clock), secret
        )
        await _refused(verifier, _bearer(token), Check.ALG)


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
    for secret in _public_key_secrets(rsa_dpop_key.key).values():
        await _refused(
            verifier,
            _dpop(token, _hmac_token(header, payload, secret)),
            Check.DPOP_ALG,
            InvalidDpopProof,
        )


# --- keys named by the token -------------------------------------------------------------


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
        _claims(issuer, clock),
        attacker_rsa,
        "RS256",
    )
    await _refused(verifier, _bearer(token), Check.EMBEDDED_KEY)
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
    kid, _ = _issuer_key(issuer)
    for header_kid in (kid, None):
        header: dict[str, Any] = {
            "alg": "RS256",
            "typ": "at+jwt",
            "jwk": dict(attacker_rsa.as_dict(private=False)),
        }
        if header_kid:
            header["kid"] = header_kid
        token = sign_compact(header, _claims(issuer, clock), attacker_rsa, "RS256")
        await _refused(verifier, _bearer(token), Check.EMBEDDED_KEY)
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
    await verifier.authenticate(_dpop(token, proof))
    assert transport.unexpected == []


# --- kid injection -----------------------------------------------------------------------


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
    _, key = _issuer_key(issuer)
    for _ in range(3):
        token = sign_compact(
            {"alg": "RS256", "typ": "at+jwt", "kid": kid}, _claims(issuer, clock), key, "RS256"
        )
        await _refused(verifier, _bearer(token), Check.KID)
    assert issuer.jwks_requests <= 2
    assert transport.unexpected == []
    await verifier.aclose()


# --- signature malleability --------------------------------------------------------------


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
    kid, _ = _issuer_key(issuer, "ES256")
    header = b64url_encode(json.dumps({"alg": "ES256", "typ": "at+jwt", "kid": kid}).encode())
    payload = b64url_encode(json.dumps(_claims(issuer, clock)).encode())
    await _refused(
        verifier, _bearer(f"{header}.{payload}.{b64url_encode(signature)}"), Check.SIGNATURE
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
    await _refused(
        verifier, _bearer(f"{signing_input}.{b64url_encode(change(raw))}"), Check.SIGNATURE
    )


async def test_non_canonical_base64url_is_refused(verifier: TokenVerifier, mint: Mint) -> None:
    """RFC 7515 §2 / RFC 4648 §3.5: a last character with unused bits set decodes to the
    same signature in lenient decoders; accepting it would make tokens malleable (and
    break caching by token value)."""
    for alg in ("RS256", "ES256"):
        token = mint(alg=alg)
        signing_input, signature = token.rsplit(".", 1)
        assert len(signature) % 4 == 2  # the last character carries 4 unused bits
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        tweaked = signature[:-1] + alphabet[alphabet.index(signature[-1]) | 0b0001]
        assert tweaked != signature
        lenient = base64.urlsafe_b64decode(tweaked + "==")
        assert lenient == base64.urlsafe_b64decode(signature + "==")
        await _refused(verifier, _bearer(f"{signing_input}.{tweaked}"), Check.BASE64URL)
        await verifier.authenticate(_bearer(token))  # the canonical form still passes


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: ".".join(part + "=" * (-len(part) % 4) for part in t.split(".")),
        lambda t: t.split(".")[0] + "==." + ".".join(t.split(".")[1:]),
        lambda t: t.replace("-", "+").replace("_", "/") if ("-" in t or "_" in t) else t + "+",
        lambda t: t[:20] + " " + t[20:],
        lambda t: t[:20] + "\n" + t[20:],
        lambda t: t[:20] + "\t" + t[20:],
        lambda t: t + "\n",
        lambda t: " " + t,
        lambda t: t.replace(".", ". ", 1),
    ],
    ids=[
        "padding",
        "padding-in-header",
        "standard-alphabet",
        "space",
        "newline",
        "tab",
        "trailing-newline",
        "leading-space",
        "space-after-dot",
    ],
)
async def test_base64url_variants_are_refused(
    jwks: JwksCache, issuer: TestIssuer, clock: FakeClock, mangle: Callable[[str], str]
) -> None:
    """RFC 7515 §2 and §7.1: unpadded base64url with no whitespace or other characters."""
    token = issuer.token(iat=int(clock.now), exp=int(clock.now) + 300)
    mangled = mangle(token)
    assert mangled != token
    with refused(Check.BASE64URL, InvalidToken):
        await verify_access_token(mangled, policy=_policy(issuer), keys=jwks, now=clock.now)


# --- duplicate members -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        ('"alg":"none"', None),
        ('"typ":"JWT"', None),
        ('"kid":"other"', None),
        (None, '"sub":"admin"'),
        (None, '"aud":"other-api"'),
        (None, '"exp":1'),
        (None, '"cnf":{"jkt":"x"},"cnf":null'),
    ],
    ids=[
        "header-alg",
        "header-typ",
        "header-kid",
        "payload-sub",
        "payload-aud",
        "payload-exp",
        "payload-cnf",
    ],
)
async def test_duplicate_json_members_are_refused(
    verifier: TokenVerifier,
    issuer: TestIssuer,
    clock: FakeClock,
    header: str | None,
    payload: str | None,
) -> None:
    """RFC 7515 §4 / RFC 7519 §4: duplicate names MUST be rejected or the last one used.
    Parsers disagree on which one wins (Python keeps the last: the valid one here), so
    they are rejected outright."""
    kid, _ = _issuer_key(issuer)
    header_members = {"alg": "RS256", "typ": "at+jwt", "kid": kid}
    claims = _claims(issuer, clock)
    raw_header = _raw_json(header, header_members) if header else _json(header_members)
    raw_payload = _raw_json(payload, claims) if payload else _json(claims)
    token = _sign_raw(issuer, raw_header, raw_payload)
    await _refused(verifier, _bearer(token), Check.DUPLICATE_MEMBER)


async def test_duplicate_members_in_a_proof_are_refused(
    verifier: TokenVerifier, mint: Mint, dpop_key: DpopKey, clock: FakeClock
) -> None:
    """RFC 7515 §4 / RFC 7519 §4, for proofs: one htu for the signer, another for us."""
    token = mint(dpop_key=dpop_key)
    header = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk})
    payload = _raw_json(
        '"htu":"https://evil.example/x"',
        {
            "jti": "j",
            "htm": "GET",
            "htu": API_URL,
            "iat": clock.now,
            "ath": access_token_hash(token),
        },
    )
    proof = sign_compact(header.encode(), payload, dpop_key.key, "ES256")
    await _refused(verifier, _dpop(token, proof), Check.DPOP_DUPLICATE_MEMBER, InvalidDpopProof)


# --- numeric dates -----------------------------------------------------------------------

# Literals that are not JSON at all (refused by the parser); the others parse and are
# refused by the date check.
NOT_JSON = frozenset({"NaN", "Infinity", "-Infinity", "9" * 5000})
HOSTILE_NUMBERS = {
    "nan": "NaN",
    "infinity": "Infinity",
    "minus-infinity": "-Infinity",
    "1e400": "1e400",
    "-1e400": "-1e400",
    "huge-int": "1" + "0" * 400,
    "int-beyond-digit-limit": "9" * 5000,
    "negative": "-1",
    "true": "true",
    "false": "false",
    "string": '"1750000300"',
    "array": "[1750000300]",
    "object": '{"t":1750000300}',
}


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("literal", HOSTILE_NUMBERS.values(), ids=HOSTILE_NUMBERS.keys())
async def test_hostile_numeric_dates_are_refused_never_a_crash(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, claim: str, literal: str
) -> None:
    """RFC 7519 §2 (NumericDate is a JSON number) and §4.1.4-4.1.6; RFC 8259 §6 has no
    NaN or Infinity; bool is an int in Python and must not pass as a date."""
    kid, _ = _issuer_key(issuer)
    claims = {name: value for name, value in _claims(issuer, clock).items() if name != claim}
    token = _sign_raw(
        issuer,
        json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": kid}).encode(),
        _raw_json(f'"{claim}":{literal}', claims),
    )
    await _refused(verifier, _bearer(token), Check.JSON if literal in NOT_JSON else Check(claim))


@pytest.mark.parametrize("literal", HOSTILE_NUMBERS.values(), ids=HOSTILE_NUMBERS.keys())
async def test_hostile_proof_iat_is_refused_never_a_crash(
    verifier: TokenVerifier, mint: Mint, dpop_key: DpopKey, literal: str
) -> None:
    """RFC 9449 §4.2 (iat is a NumericDate) and §4.3 step 11."""
    token = mint(dpop_key=dpop_key)
    header = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk})
    payload = _raw_json(
        f'"iat":{literal}',
        {"jti": "j", "htm": "GET", "htu": API_URL, "ath": access_token_hash(token)},
    )
    proof = sign_compact(header.encode(), payload, dpop_key.key, "ES256")
    check = Check.DPOP_JSON if literal in NOT_JSON else Check.DPOP_IAT
    await _refused(verifier, _dpop(token, proof), check, InvalidDpopProof)


async def test_deeply_nested_json_is_refused_never_a_crash(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, mint: Mint, dpop_key: DpopKey
) -> None:
    """RFC 8725 §3.4 spirit (validate inputs): thousands of nested arrays fit in a token
    and a proof; the parser's recursion limit must read as malformed, not as a 500."""
    kid, _ = _issuer_key(issuer)
    nested = "[" * 4000 + "]" * 4000
    raw = _raw_json(f'"x":{nested}', _claims(issuer, clock))
    header = json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": kid}).encode()
    await _refused(verifier, _bearer(_sign_raw(issuer, header, raw)), Check.JSON)
    token = mint(dpop_key=dpop_key)
    proof_header = _raw_json(
        '"x":' + "[" * 2500 + "]" * 2500,
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk},
    )
    proof = sign_compact(proof_header, b"{}", dpop_key.key, "ES256")
    await _refused(verifier, _dpop(token, proof), Check.DPOP_JSON, InvalidDpopProof)


async def test_a_lone_surrogate_in_a_proof_jti_is_refused_never_a_crash(
    verifier: TokenVerifier, mint: Mint, dpop_key: DpopKey, clock: FakeClock
) -> None:
    """RFC 8725 §3.7 (UTF-8 only) / RFC 7493 §2.1: "\\ud800" is not a character; it
    used to pass every check and then crash the replay store's hashing."""
    token = mint(dpop_key=dpop_key)
    header = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk})
    payload = _raw_json(
        '"jti":"\\ud800"',
        {"htm": "GET", "htu": API_URL, "iat": clock.now, "ath": access_token_hash(token)},
    )
    proof = sign_compact(header.encode(), payload, dpop_key.key, "ES256")
    await _refused(verifier, _dpop(token, proof), Check.DPOP_JSON, InvalidDpopProof)


# --- serialisations and size -------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
        "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y2lwaGVy.dGFn",
    ],
    ids=["jwe-rsa-oaep", "jwe-dir"],
)
async def test_jwe_access_tokens_are_refused(verifier: TokenVerifier, token: str) -> None:
    """RFC 9068 §4 step 2 (decryption is not supported here) and RFC 8725 §2.3
    (a JWE must never pass for a verified JWS)."""
    await _refused(verifier, _bearer(token), Check.FORMAT)


async def test_json_serialisations_are_refused(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
) -> None:
    """RFC 7519 §7.2: JWTs use the compact serialisation; accepting the JSON one invites
    format confusion (draft-ietf-oauth-rfc8725bis "JWT Format Confusion")."""
    header, payload, signature = issuer.token(iat=int(clock.now), exp=int(clock.now) + 60).split(
        "."
    )
    flattened = json.dumps({"protected": header, "payload": payload, "signature": signature})
    general = json.dumps(
        {"payload": payload, "signatures": [{"protected": header, "signature": signature}]}
    )
    for value in (flattened, general):
        with refused(Check.FORMAT, InvalidToken):
            await verify_access_token(value, policy=_policy(issuer), keys=jwks, now=clock.now)
        # As an Authorization header value it is not even token68.
        with refused(Check.TOKEN68, InvalidRequest):
            await verifier.authenticate(_bearer(value))


@pytest.mark.parametrize(
    "token",
    ["." * (20 * 1024), "!" * (20 * 1024), "eyJ" + "A" * (20 * 1024) + ".e30.c2ln"],
    ids=["dots", "not-base64", "huge-header"],
)
async def test_an_oversized_token_is_refused_before_parsing(
    jwks: JwksCache, issuer: TestIssuer, transport: IdpTransport, token: str
) -> None:
    """No RFC sets the cap (h11's 16 KiB header limit does): the length is checked first,
    so a 20 KiB value costs nothing. A value of dots or invalid base64 would have failed
    parsing with another message: seeing the size error proves no parse happened."""
    with refused(Check.SIZE, InvalidToken):
        await verify_access_token(token, policy=_policy(issuer), keys=jwks, now=0)
    assert transport.urls == []


async def test_a_valid_token_padded_past_the_cap_is_refused(
    verifier: TokenVerifier, mint: Mint
) -> None:
    """The cap applies to the token as presented, however well-formed its claims."""
    token = mint(padding="x" * MAX_TOKEN_LENGTH)
    await _refused(verifier, _bearer(token), Check.SIZE)


# --- token type confusion ----------------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", None, "dpop+jwt", "id_token+jwt", "logout+jwt"])
async def test_a_jwt_of_another_type_is_not_an_access_token(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, typ: str | None
) -> None:
    """RFC 9068 §4 step 1 / §2.1 and RFC 8725 §3.11-3.12: only at+jwt, even when
    signed by the issuer and otherwise valid."""
    kid, key = _issuer_key(issuer)
    header = {"alg": "RS256", "kid": kid} | ({} if typ is None else {"typ": typ})
    token = sign_compact(header, _claims(issuer, clock), key, "RS256")
    await _refused(verifier, _bearer(token), Check.TYP)


@pytest.mark.parametrize("payload_typ", ["ID", "Refresh", "Offline", "Logout"])
async def test_keycloak_id_and_refresh_tokens_are_refused_under_the_jwt_switch(
    make_verifier: MakeVerifier, issuer: TestIssuer, clock: FakeClock, payload_typ: str
) -> None:
    """RFC 8725 §3.12 (mutually exclusive validation rules): with OIDC_ACCEPT_JWT_TYP
    Keycloak's tokens all say typ JWT; its payload typ still tells them apart. The ID
    token here even carries our audience, so only the type check can refuse it."""
    verifier = make_verifier(accept_jwt_typ=True)
    kid, key = _issuer_key(issuer)
    claims = _claims(issuer, clock, typ=payload_typ, aud=issuer.audience, nonce="n")
    token = sign_compact({"alg": "RS256", "typ": "JWT", "kid": kid}, claims, key, "RS256")
    await _refused(verifier, _bearer(token), Check.TYP)
    # The same switch accepts Keycloak's access tokens.
    access = sign_compact(
        {"alg": "RS256", "typ": "JWT", "kid": kid},
        _claims(issuer, clock, typ="Bearer"),
        key,
        "RS256",
    )
    await verifier.authenticate(_bearer(access))


async def test_a_dpop_proof_is_not_an_access_token(
    verifier: TokenVerifier, prove: Prove, dpop_key: DpopKey, transport: IdpTransport
) -> None:
    """RFC 9449 §11.5 / RFC 8725 §3.11: typ dpop+jwt never passes as at+jwt, and its
    embedded jwk is never a verification key for an access token."""
    proof = prove(dpop_key, claims={"sub": "alice", "aud": "todo-api", "iss": "x"})
    await _refused(verifier, _bearer(proof), Check.TYP)
    await _refused(verifier, _dpop(proof, prove(dpop_key, access_token=proof)), Check.TYP)
    assert transport.urls == []


async def test_an_access_token_is_not_a_dpop_proof(
    verifier: TokenVerifier, mint: Mint, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3 step 4 and §11.5 (signed JWT swapping)."""
    token = mint(dpop_key=dpop_key)
    await _refused(verifier, _dpop(token, mint()), Check.DPOP_TYP, InvalidDpopProof)


# --- crit --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"crit": ["exp"], "exp": 1},
        {"crit": ["b64"], "b64": False},
        {"crit": ["urn:example:unknown"]},
        {"crit": []},
        {"crit": ["alg"]},
        {"crit": ["typ", "kid"]},
        {"crit": "exp"},
    ],
    ids=[
        "exp",
        "b64-false",
        "unknown",
        "empty",
        "registered-alg",
        "registered-typ-kid",
        "not-a-list",
    ],
)
async def test_a_critical_header_is_refused(
    verifier: TokenVerifier,
    mint: Mint,
    prove: Prove,
    dpop_key: DpopKey,
    header: dict[str, Any],
) -> None:
    """RFC 7515 §4.1.11: no extension is understood here, so any crit is refused (a
    crit naming a registered parameter, or an empty one, is invalid anyway)."""
    await _refused(verifier, _bearer(mint(header=header)), Check.CRIT)
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token, header=header)
    await _refused(verifier, _dpop(token, proof), Check.DPOP_CRIT, InvalidDpopProof)


# --- replay ------------------------------------------------------------------------------


async def test_a_replayed_proof_is_rejected(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §11.1: a proof is accepted once within its window."""
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token)
    await verifier.authenticate(_dpop(token, proof))
    await _refused(verifier, _dpop(token, proof), Check.DPOP_REPLAY, InvalidDpopProof)


async def test_concurrent_replays_of_one_proof_have_exactly_one_winner(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §11.1: two requests racing with the same proof; exactly one is served."""
    token = mint(dpop_key=dpop_key)
    request = _dpop(token, prove(dpop_key, access_token=token))
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
    await _refused(
        verifier, _dpop(token, RFC9449_FIGURE_13_PROOF), Check.DPOP_HTU, InvalidDpopProof
    )
    at_its_url = _dpop(
        token, RFC9449_FIGURE_13_PROOF, url="https://resource.example.org/protectedresource"
    )
    await _refused(verifier, at_its_url, Check.DPOP_IAT, InvalidDpopProof)


# --- scheme binding ----------------------------------------------------------------------


async def test_a_dpop_bound_token_sent_as_bearer_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §7.2: a protected resource MUST reject a DPoP-bound token received as a
    bearer token (the downgrade), even with a valid proof alongside."""
    token = mint(dpop_key=dpop_key)
    error = await _refused(verifier, _bearer(token), Check.SCHEME_BINDING)
    assert error.scheme == "Bearer"
    await _refused(
        verifier,
        _bearer(token, proofs=[prove(dpop_key, access_token=token)]),
        Check.SCHEME_BINDING,
    )


async def test_an_unbound_token_under_the_dpop_scheme_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens; a proof cannot bind a
    bearer token after the fact."""
    token = mint()
    error = await _refused(
        verifier, _dpop(token, prove(dpop_key, access_token=token)), Check.SCHEME_BINDING
    )
    assert error.scheme == "DPoP"


@pytest.mark.parametrize(
    "cnf",
    [
        {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
        {"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}},
        {"kid": "key-1"},
    ],
    ids=["mtls", "jwk", "kid"],
)
async def test_a_token_bound_by_another_method_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey, cnf: dict[str, Any]
) -> None:
    """RFC 8705 §3 / RFC 7800 §3: a binding this server cannot check must not be ignored,
    or a sender-constrained token would work as a bearer token."""
    token = mint(cnf=cnf)
    await _refused(verifier, _bearer(token), Check.CNF)
    await _refused(verifier, _dpop(token, prove(dpop_key, access_token=token)), Check.CNF)


# --- the proof's key ---------------------------------------------------------------------


async def test_a_proof_carrying_its_private_key_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.2 and §4.3 step 7: the jwk MUST NOT contain a private key."""
    token = mint(dpop_key=dpop_key)
    private = dict(dpop_key.key.as_dict(private=True))
    await _refused(
        verifier,
        _dpop(token, prove(dpop_key, access_token=token, header={"jwk": private})),
        Check.DPOP_JWK_PRIVATE,
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
    await _refused(
        verifier,
        _dpop(token, sign_compact(header, payload, secret, "HS256")),
        Check.DPOP_ALG,
        InvalidDpopProof,
    )
    header["alg"] = "ES256"
    await _refused(
        verifier,
        _dpop(token, sign_compact(header, payload, dpop_key.key, "ES256")),
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
    await _refused(verifier, _dpop(token, es256_with_rsa_jwk), Check.DPOP_JWK, InvalidDpopProof)
    rs256_with_ec_jwk = prove(rsa_dpop_key, access_token=token, header={"jwk": dpop_key.public_jwk})
    await _refused(verifier, _dpop(token, rs256_with_ec_jwk), Check.DPOP_JWK, InvalidDpopProof)


async def test_a_proof_by_a_key_other_than_the_bound_one_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3 step 12 and §6.1: a stolen token with the thief's own valid proof."""
    token = mint(dpop_key=dpop_key)
    thief = DpopKey()
    await _refused(
        verifier, _dpop(token, prove(thief, access_token=token)), Check.DPOP_JKT, InvalidDpopProof
    )


# --- the proof's request -----------------------------------------------------------------


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
    await _refused(verifier, _dpop(token, proof), check, InvalidDpopProof)


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
    await verifier.authenticate(_dpop(token, prove(dpop_key, "GET", htu, access_token=token)))


async def test_the_request_url_is_normalised_too(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3: both sides are normalised before comparison."""
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token)
    await verifier.authenticate(_dpop(token, proof, url="https://API.example:443/./todos?page=3"))


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
    await _refused(verifier, _dpop(token, proof), Check.DPOP_IAT, InvalidDpopProof)


async def test_a_proof_without_ath_or_for_another_token_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3 step 12 and §7: ath binds the proof to this very token (a proof made
    for the user's other token, bound to the same key, must not work)."""
    token = mint(dpop_key=dpop_key)
    other_token = mint("alice", dpop_key=dpop_key, scope="openid todo:admin")
    for proof in (prove(dpop_key), prove(dpop_key, access_token=other_token)):
        await _refused(verifier, _dpop(token, proof), Check.DPOP_ATH, InvalidDpopProof)


async def test_two_proof_headers_are_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3 step 1: not more than one DPoP header field."""
    token = mint(dpop_key=dpop_key)
    good = prove(dpop_key, access_token=token)
    other = prove(dpop_key, "POST", access_token=token)
    for proofs in ((good, good), (good, other), (other, good)):
        await _refused(verifier, _dpop(token, *proofs), Check.DPOP_HEADER, InvalidDpopProof)


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
    await _refused(verifier, _dpop(token, joined), Check.DPOP_FORMAT, InvalidDpopProof)


# --- forwarded headers -------------------------------------------------------------------

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
        await _refused(
            verifier,
            _dpop(token, spoofed, url=INTERNAL_URL, headers=FORWARDED_HEADERS, peer="203.0.113.9"),
            Check.DPOP_HTU,
            InvalidDpopProof,
        )
        honest = prove(dpop_key, "GET", INTERNAL_URL, access_token=token)
        await verifier.authenticate(
            _dpop(token, honest, url=INTERNAL_URL, headers=FORWARDED_HEADERS, peer="203.0.113.9")
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
    await verifier.authenticate(_dpop(token, prove(dpop_key, access_token=token), **request))
    internal = prove(dpop_key, "GET", INTERNAL_URL, access_token=token)
    await _refused(verifier, _dpop(token, internal, **request), Check.DPOP_HTU, InvalidDpopProof)


async def test_a_client_value_before_the_trusted_proxys_own_is_ignored(
    make_verifier: MakeVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 7239 §4: proxies append; the first element may be the client's own."""
    verifier = make_verifier(trusted_proxies="10.0.0.0/8")
    token = mint(dpop_key=dpop_key)
    headers = [("forwarded", "proto=https;host=evil.example, proto=https;host=api.example")]
    request = {"url": INTERNAL_URL, "headers": headers, "peer": "10.1.2.3"}
    evil = prove(dpop_key, "GET", "https://evil.example/todos", access_token=token)
    await _refused(verifier, _dpop(token, evil, **request), Check.DPOP_HTU, InvalidDpopProof)
    await verifier.authenticate(_dpop(token, prove(dpop_key, access_token=token), **request))


# --- server nonces -----------------------------------------------------------------------


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
        error = await _refused(
            verifier,
            _dpop(token, prove(dpop_key, access_token=token)),
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
        await _refused(
            verifier,
            _dpop(token, prove(dpop_key, access_token=token, nonce=nonce)),
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
        await _refused(
            verifier,
            _dpop(token, prove(dpop_key, access_token=token, nonce=foreign)),
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
        await verifier.authenticate(_dpop(token, prove(dpop_key, access_token=token, nonce=nonce)))
        clock.advance(600)  # two nonce lifetimes later: a pre-generated proof is useless
        error = await _refused(
            verifier,
            _dpop(token, prove(dpop_key, access_token=token, nonce=nonce)),
            Check.DPOP_NONCE,
            UseDpopNonce,
        )
        assert isinstance(error, UseDpopNonce)
        assert error.nonce != nonce


# --- substitution: keys, issuer, audience, time ------------------------------------------


async def test_a_token_signed_by_a_key_outside_the_jwks_is_refused(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, attacker_rsa: RSAKey
) -> None:
    """RFC 9068 §4 step 5 and RFC 8725 §3.8: the issuer's published keys only, whatever
    kid the token claims."""
    kid, _ = _issuer_key(issuer)
    for claimed_kid, check in ((kid, Check.SIGNATURE), ("attacker-kid", Check.KID)):
        token = sign_compact(
            {"alg": "RS256", "typ": "at+jwt", "kid": claimed_kid},
            _claims(issuer, clock),
            attacker_rsa,
            "RS256",
        )
        await _refused(verifier, _bearer(token), check)


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example/realms/todo",
        "https://issuer.test/realms/todo/",
        "https://ISSUER.test/realms/todo",
        "https://issuer.test/realms/todo2",
        None,
        ["https://issuer.test/realms/todo"],
    ],
    ids=["other-host", "trailing-slash", "other-case", "prefix", "missing", "array"],
)
async def test_a_token_from_another_issuer_is_refused(
    verifier: TokenVerifier, mint: Mint, iss: object
) -> None:
    """RFC 9068 §4 step 3 (exact match) and RFC 8725 §3.8: even signed by a key we
    trust, as with a multi-tenant IdP whose realms share keys."""
    await _refused(verifier, _bearer(mint(iss=iss)), Check.ISS)


@pytest.mark.parametrize(
    "aud",
    ["account", ["account", "other-api"], [], "todo-api-admin", None, ["todo-api ", "x"]],
    ids=["other", "array-without-ours", "empty-array", "prefix-match", "missing", "whitespace"],
)
async def test_a_token_for_another_audience_is_refused(
    verifier: TokenVerifier, mint: Mint, aud: object
) -> None:
    """RFC 9068 §4 step 4 and RFC 8725 §3.9 (substitution between resource servers)."""
    await _refused(verifier, _bearer(mint(aud=aud)), Check.AUD)


async def test_an_expired_token_is_accepted_only_within_the_leeway(
    verifier: TokenVerifier, mint: Mint, clock: FakeClock
) -> None:
    """RFC 9068 §4 step 6 (small leeway allowed, RFC 7519 §4.1.4)."""
    await verifier.authenticate(_bearer(mint(exp=int(clock.now) - 29)))
    await _refused(verifier, _bearer(mint(exp=int(clock.now) - 31)), Check.EXP)


async def test_a_token_not_valid_yet_is_refused(
    verifier: TokenVerifier, mint: Mint, clock: FakeClock
) -> None:
    """RFC 7519 §4.1.5 (nbf) and §4.1.6 (iat in the future), with the same leeway."""
    await _refused(verifier, _bearer(mint(nbf=int(clock.now) + 31)), Check.NBF)
    await _refused(verifier, _bearer(mint(iat=int(clock.now) + 31)), Check.IAT)


# --- the verified-token cache against key removal and replacement -------------------------


async def _verified_then_rotated(
    verifier: TokenVerifier, jwks: JwksCache, token: str, rotate: Callable[[], None]
) -> None:
    """Verify ``token`` (so it is cached), change the issuer's keys, refresh them."""
    await jwks.refresh()
    await verifier.authenticate(_bearer(token))
    rotate()
    await jwks.refresh()


async def test_a_cached_token_without_kid_is_refused_once_its_key_is_removed(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, clock: FakeClock
) -> None:
    """README promise: removing a signing key revokes every token it signed at the next
    JWKS refresh, cache included; a token without kid is no exception (RFC 7515 §4.1.4
    makes kid optional)."""
    issuer.remove_key(issuer.current_kid["ES256"])  # one key: a kid-less token resolves
    old_kid, old_key = _issuer_key(issuer)
    token = sign_compact(
        {"alg": "RS256", "typ": "at+jwt"}, _claims(issuer, clock), old_key, "RS256"
    )

    def rotate() -> None:
        issuer.add_key("RS256")
        issuer.remove_key(old_kid)

    await _verified_then_rotated(verifier, jwks, token, rotate)
    await _refused(verifier, _bearer(token), Check.SIGNATURE)


async def test_a_cached_token_is_refused_once_its_key_is_replaced_under_the_same_kid(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, mint: Mint
) -> None:
    """An uncached copy of the token is refused by the new key material; the cached one
    must be too (the entry is bound to the RFC 7638 thumbprint, not the kid's name)."""
    token = mint()
    kid, _ = _issuer_key(issuer)

    def replace() -> None:
        issuer.keys[kid] = ("RS256", RSAKey.generate_key(2048))

    await _verified_then_rotated(verifier, jwks, token, replace)
    await _refused(verifier, _bearer(token), Check.SIGNATURE)


async def test_a_cached_token_is_refused_once_its_kid_names_another_published_key(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, mint: Mint
) -> None:
    """The key that verified the token moves to another kid: a fresh verification looks
    the token's kid up and finds nothing; the cache must answer the same."""
    token = mint()
    kid, key = _issuer_key(issuer)

    def move() -> None:
        issuer.keys["moved"] = issuer.keys.pop(kid)

    await _verified_then_rotated(verifier, jwks, token, move)
    await _refused(verifier, _bearer(token), Check.KID)
    assert key is issuer.keys["moved"][1]


async def test_a_cached_token_stays_valid_while_its_key_is_published(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, mint: Mint
) -> None:
    """Rotation adds keys and removes others; tokens of keys still published keep working
    from the cache (no verification work) and after a refresh."""
    token = mint()
    await _verified_then_rotated(verifier, jwks, token, lambda: issuer.add_key("ES256"))
    await verifier.authenticate(_bearer(token))


# --- JSON null is a value, not an absence -------------------------------------------------

NULL_CLAIMS = {
    "iss": Check.ISS,
    "sub": Check.SUB,
    "aud": Check.AUD,
    "exp": Check.EXP,
    "nbf": Check.NBF,
    "iat": Check.IAT,
    "jti": Check.JTI,
    "client_id": Check.CLIENT_ID,
    "scope": Check.SCOPE,
    "cnf": Check.CNF,
}
NULL_HEADERS = {
    "alg": Check.ALG,
    "typ": Check.TYP,
    "kid": Check.KID,
    "crit": Check.CRIT,
    "jwk": Check.EMBEDDED_KEY,
    "jku": Check.EMBEDDED_KEY,
    "x5u": Check.EMBEDDED_KEY,
    "x5c": Check.EMBEDDED_KEY,
}


@pytest.mark.parametrize(("claim", "check"), NULL_CLAIMS.items(), ids=NULL_CLAIMS.keys())
async def test_a_null_registered_claim_is_refused_like_a_wrong_type(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, claim: str, check: Check
) -> None:
    """RFC 7519 §4.1: a registered claim that is present has its type; null is not
    "absent" ("nbf": null is not "no nbf", "cnf": null is not "unbound")."""
    kid, key = _issuer_key(issuer)
    claims = _claims(issuer, clock) | {claim: None}
    token = sign_compact({"alg": "RS256", "typ": "at+jwt", "kid": kid}, claims, key, "RS256")
    await _refused(verifier, _bearer(token), check)


@pytest.mark.parametrize(("name", "check"), NULL_HEADERS.items(), ids=NULL_HEADERS.keys())
async def test_a_null_header_parameter_is_refused_like_a_wrong_type(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, name: str, check: Check
) -> None:
    """RFC 7515 §4.1: "kid": null is not "no kid" (with a single published key, a token
    without kid resolves to it)."""
    issuer.remove_key(issuer.current_kid["ES256"])
    kid, key = _issuer_key(issuer)
    header = {"alg": "RS256", "typ": "at+jwt", "kid": kid} | {name: None}
    token = sign_compact(header, _claims(issuer, clock), key, "RS256")
    await _refused(verifier, _bearer(token), check)


async def test_a_null_payload_typ_is_refused_under_the_jwt_switch(
    make_verifier: MakeVerifier, issuer: TestIssuer, clock: FakeClock
) -> None:
    """RFC 8725 §3.12 with OIDC_ACCEPT_JWT_TYP: only an absent payload typ or Keycloak's
    Bearer/DPoP passes; null is neither."""
    verifier = make_verifier(accept_jwt_typ=True)
    kid, key = _issuer_key(issuer)
    claims = _claims(issuer, clock) | {"typ": None}
    token = sign_compact({"alg": "RS256", "typ": "JWT", "kid": kid}, claims, key, "RS256")
    await _refused(verifier, _bearer(token), Check.TYP)


NULL_PROOF_MEMBERS = {
    ("header", "typ"): Check.DPOP_TYP,
    ("header", "alg"): Check.DPOP_ALG,
    ("header", "jwk"): Check.DPOP_JWK,
    ("header", "crit"): Check.DPOP_CRIT,
    ("claims", "jti"): Check.DPOP_JTI,
    ("claims", "htm"): Check.DPOP_HTM,
    ("claims", "htu"): Check.DPOP_HTU,
    ("claims", "iat"): Check.DPOP_IAT,
    ("claims", "ath"): Check.DPOP_ATH,
}


@pytest.mark.parametrize(
    ("member", "check"),
    NULL_PROOF_MEMBERS.items(),
    ids=[f"{part}-{name}" for part, name in NULL_PROOF_MEMBERS],
)
async def test_a_null_proof_member_is_refused_like_a_wrong_type(
    *,
    verifier: TokenVerifier,
    mint: Mint,
    prove: Prove,
    dpop_key: DpopKey,
    member: tuple[str, str],
    check: Check,
) -> None:
    """RFC 9449 §4.2-4.3: the same rule for the proof's header and claims."""
    token = mint(dpop_key=dpop_key)
    part, name = member
    proof = prove(dpop_key, access_token=token, **{part: {name: None}})
    await _refused(verifier, _dpop(token, proof), check, InvalidDpopProof)


async def test_a_null_nonce_is_not_a_nonce(
    make_verifier: MakeVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §9: with server nonces on, "nonce": null is asked for a nonce again."""
    verifier = make_verifier(dpop_nonce=True, dpop_nonce_secret="s")
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token, claims={"nonce": None})
    await _refused(verifier, _dpop(token, proof), Check.DPOP_NONCE, UseDpopNonce)


# --- key size, exponent and member hygiene --------------------------------------------------


def _int_b64(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _rsa_jwk(n: int, e: int = 65537, **members: Any) -> dict[str, Any]:
    return {"kty": "RSA", "n": _int_b64(n), "e": _int_b64(e), **members}


@pytest.fixture(scope="module")
def huge_exponent_key() -> DpopKey:
    """A real 3072-bit RSA key whose public exponent has 3071 bits: every signature
    check with it costs about five times a normal one (issue 10 point 6)."""
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
    await _refused(verifier, _dpop(token, proof), Check.DPOP_JWK_SIZE, InvalidDpopProof)


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
    proof = prove(dpop_key, access_token=token, header={"alg": "RS256", "jwk": _rsa_jwk(n, e)})
    await _refused(verifier, _dpop(token, proof), Check.DPOP_JWK_SIZE, InvalidDpopProof)


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
    await _refused(verifier, _dpop(token, proof), Check.DPOP_JWK_USE, InvalidDpopProof)


async def test_a_proof_jwk_with_use_sig_and_key_ops_verify_is_accepted(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    token = mint(dpop_key=dpop_key)
    jwk = dpop_key.public_jwk | {"use": "sig", "key_ops": ["verify"]}
    await verifier.authenticate(
        _dpop(token, prove(dpop_key, access_token=token, header={"jwk": jwk}))
    )


async def test_a_roca_vulnerable_proof_key_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """CVE-2017-15361 (Nemec et al., CCS 2017): the modulus can be factored, so its
    "proof" proves nothing. The published test modulus of the ROCA detector."""
    token = mint(dpop_key=dpop_key)
    proof = prove(
        dpop_key, access_token=token, header={"alg": "RS256", "jwk": _rsa_jwk(ROCA_MODULUS)}
    )
    await _refused(verifier, _dpop(token, proof), Check.DPOP_JWK_VULNERABLE, InvalidDpopProof)
