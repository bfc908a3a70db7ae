"""Attacks on parsing (RFC 7515 §2, §4, §7.1; RFC 7519 §2, §4; RFC 8259; RFC 7493 §2.1):
non-canonical and variant base64url, duplicate members, hostile numbers, nesting, lone
surrogates, other serialisations, oversized values and critical headers, against tokens
and proofs alike. Each is refused with its check, never a crash."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from auth._access_token import MAX_TOKEN_LENGTH
from auth._dpop import access_token_hash
from auth._errors import (
    Check,
    InvalidDpopProof,
    InvalidRequest,
    InvalidToken,
)
from auth._jwks import JwksCache
from auth._token_steps import verify_access_token
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, TestIssuer, sign_compact
from tests.auth.attacks import (
    Mint,
    Prove,
    bearer_request,
    claims_now,
    dpop_request,
    issuer_key,
    json_bytes,
    raw_json,
    refused_by,
    sign_raw,
    token_policy,
)
from tests.auth.fakes import API_URL, FakeClock, IdpTransport
from tests.auth.refusals import refused


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
        await refused_by(verifier, bearer_request(f"{signing_input}.{tweaked}"), Check.BASE64URL)
        await verifier.authenticate(bearer_request(token))  # the canonical form still passes


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
        await verify_access_token(mangled, policy=token_policy(issuer), keys=jwks, now=clock.now)


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
    kid, _ = issuer_key(issuer)
    header_members = {"alg": "RS256", "typ": "at+jwt", "kid": kid}
    claims = claims_now(issuer, clock)
    raw_header = raw_json(header, header_members) if header else json_bytes(header_members)
    raw_payload = raw_json(payload, claims) if payload else json_bytes(claims)
    token = sign_raw(issuer, raw_header, raw_payload)
    await refused_by(verifier, bearer_request(token), Check.DUPLICATE_MEMBER)


async def test_duplicate_members_in_a_proof_are_refused(
    verifier: TokenVerifier, mint: Mint, dpop_key: DpopKey, clock: FakeClock
) -> None:
    """RFC 7515 §4 / RFC 7519 §4, for proofs: one htu for the signer, another for us."""
    token = mint(dpop_key=dpop_key)
    header = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk})
    payload = raw_json(
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
    await refused_by(
        verifier, dpop_request(token, proof), Check.DPOP_DUPLICATE_MEMBER, InvalidDpopProof
    )


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
    kid, _ = issuer_key(issuer)
    claims = {name: value for name, value in claims_now(issuer, clock).items() if name != claim}
    token = sign_raw(
        issuer,
        json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": kid}).encode(),
        raw_json(f'"{claim}":{literal}', claims),
    )
    await refused_by(
        verifier, bearer_request(token), Check.JSON if literal in NOT_JSON else Check(claim)
    )


@pytest.mark.parametrize("literal", HOSTILE_NUMBERS.values(), ids=HOSTILE_NUMBERS.keys())
async def test_hostile_proof_iat_is_refused_never_a_crash(
    verifier: TokenVerifier, mint: Mint, dpop_key: DpopKey, literal: str
) -> None:
    """RFC 9449 §4.2 (iat is a NumericDate) and §4.3 step 11."""
    token = mint(dpop_key=dpop_key)
    header = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk})
    payload = raw_json(
        f'"iat":{literal}',
        {"jti": "j", "htm": "GET", "htu": API_URL, "ath": access_token_hash(token)},
    )
    proof = sign_compact(header.encode(), payload, dpop_key.key, "ES256")
    check = Check.DPOP_JSON if literal in NOT_JSON else Check.DPOP_IAT
    await refused_by(verifier, dpop_request(token, proof), check, InvalidDpopProof)


async def test_deeply_nested_json_is_refused_never_a_crash(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, mint: Mint, dpop_key: DpopKey
) -> None:
    """RFC 8725 §3.4 spirit (validate inputs): thousands of nested arrays fit in a token
    and a proof; the parser's recursion limit must read as malformed, not as a 500."""
    kid, _ = issuer_key(issuer)
    nested = "[" * 4000 + "]" * 4000
    raw = raw_json(f'"x":{nested}', claims_now(issuer, clock))
    header = json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": kid}).encode()
    await refused_by(verifier, bearer_request(sign_raw(issuer, header, raw)), Check.JSON)
    token = mint(dpop_key=dpop_key)
    proof_header = raw_json(
        '"x":' + "[" * 2500 + "]" * 2500,
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk},
    )
    proof = sign_compact(proof_header, b"{}", dpop_key.key, "ES256")
    await refused_by(verifier, dpop_request(token, proof), Check.DPOP_JSON, InvalidDpopProof)


@pytest.mark.usefixtures("parser_as_deep_as_python_313")
async def test_deep_nesting_is_refused_where_the_parser_would_accept_it(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, mint: Mint, dpop_key: DpopKey
) -> None:
    """On Python 3.13 json.loads parses 5,000 nested arrays: tokens and proofs are
    refused by the explicit bound (auth._json_nesting), not by the parser's limit."""
    await test_deeply_nested_json_is_refused_never_a_crash(verifier, issuer, clock, mint, dpop_key)


async def test_a_lone_surrogate_in_a_proof_jti_is_refused_never_a_crash(
    verifier: TokenVerifier, mint: Mint, dpop_key: DpopKey, clock: FakeClock
) -> None:
    """RFC 8725 §3.7 (UTF-8 only) / RFC 7493 §2.1: "\\ud800" is not a character; it
    used to pass every check and then crash the replay store's hashing."""
    token = mint(dpop_key=dpop_key)
    header = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk})
    payload = raw_json(
        '"jti":"\\ud800"',
        {"htm": "GET", "htu": API_URL, "iat": clock.now, "ath": access_token_hash(token)},
    )
    proof = sign_compact(header.encode(), payload, dpop_key.key, "ES256")
    await refused_by(verifier, dpop_request(token, proof), Check.DPOP_JSON, InvalidDpopProof)


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
    await refused_by(verifier, bearer_request(token), Check.FORMAT)


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
            await verify_access_token(value, policy=token_policy(issuer), keys=jwks, now=clock.now)
        # As an Authorization header value it is not even token68.
        with refused(Check.TOKEN68, InvalidRequest):
            await verifier.authenticate(bearer_request(value))


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
        await verify_access_token(token, policy=token_policy(issuer), keys=jwks, now=0)
    assert transport.urls == []


async def test_a_valid_token_padded_past_the_cap_is_refused(
    verifier: TokenVerifier, mint: Mint
) -> None:
    """The cap applies to the token as presented, however well-formed its claims."""
    token = mint(padding="x" * MAX_TOKEN_LENGTH)
    await refused_by(verifier, bearer_request(token), Check.SIZE)


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
    await refused_by(verifier, bearer_request(mint(header=header)), Check.CRIT)
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token, header=header)
    await refused_by(verifier, dpop_request(token, proof), Check.DPOP_CRIT, InvalidDpopProof)
