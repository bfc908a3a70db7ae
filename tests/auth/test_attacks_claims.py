"""Attacks with a validly signed token that must still be refused (RFC 9068 §4 steps
1-6, §2.2; RFC 8725 §3.8-3.12; RFC 9449 §6.1, §7.1-7.2): type confusion, issuer and
audience substitution, time, scheme downgrade, other confirmation methods, and JSON
null passed off as an absent claim or header parameter (RFC 7519 §4.1)."""

from __future__ import annotations

from typing import Any

import pytest

from auth._errors import (
    Check,
    InvalidDpopProof,
    UseDpopNonce,
)
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, TestIssuer, sign_compact
from tests.auth.attacks import (
    MakeVerifier,
    Mint,
    Prove,
    bearer_request,
    claims_now,
    dpop_request,
    issuer_key,
    refused_by,
)
from tests.auth.fakes import FakeClock, IdpTransport


@pytest.mark.parametrize("typ", ["JWT", None, "dpop+jwt", "id_token+jwt", "logout+jwt"])
async def test_a_jwt_of_another_type_is_not_an_access_token(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, typ: str | None
) -> None:
    """RFC 9068 §4 step 1 / §2.1 and RFC 8725 §3.11-3.12: only at+jwt, even when
    signed by the issuer and otherwise valid."""
    kid, key = issuer_key(issuer)
    header = {"alg": "RS256", "kid": kid} | ({} if typ is None else {"typ": typ})
    token = sign_compact(header, claims_now(issuer, clock), key, "RS256")
    await refused_by(verifier, bearer_request(token), Check.TYP)


@pytest.mark.parametrize("payload_typ", ["ID", "Refresh", "Offline", "Logout"])
async def test_keycloak_id_and_refresh_tokens_are_refused_under_the_jwt_switch(
    make_verifier: MakeVerifier, issuer: TestIssuer, clock: FakeClock, payload_typ: str
) -> None:
    """RFC 8725 §3.12 (mutually exclusive validation rules): with OIDC_ACCEPTED_TYP allowing JWT,
    Keycloak's tokens all say typ JWT; its payload typ still tells them apart. The ID
    token here even carries our audience, so only the type check can refuse it."""
    verifier = make_verifier(accepted_typ="at+jwt jwt")
    kid, key = issuer_key(issuer)
    claims = claims_now(issuer, clock, typ=payload_typ, aud=issuer.audience, nonce="n")
    token = sign_compact({"alg": "RS256", "typ": "JWT", "kid": kid}, claims, key, "RS256")
    await refused_by(verifier, bearer_request(token), Check.TYP)
    # The same switch accepts Keycloak's access tokens.
    access = sign_compact(
        {"alg": "RS256", "typ": "JWT", "kid": kid},
        claims_now(issuer, clock, typ="Bearer"),
        key,
        "RS256",
    )
    await verifier.authenticate(bearer_request(access))


async def test_a_dpop_proof_is_not_an_access_token(
    verifier: TokenVerifier, prove: Prove, dpop_key: DpopKey, transport: IdpTransport
) -> None:
    """RFC 9449 §11.5 / RFC 8725 §3.11: typ dpop+jwt never passes as at+jwt, and its
    embedded jwk is never a verification key for an access token."""
    proof = prove(dpop_key, claims={"sub": "alice", "aud": "todo-api", "iss": "x"})
    await refused_by(verifier, bearer_request(proof), Check.TYP)
    await refused_by(verifier, dpop_request(proof, prove(dpop_key, access_token=proof)), Check.TYP)
    assert transport.urls == []


async def test_an_access_token_is_not_a_dpop_proof(
    verifier: TokenVerifier, mint: Mint, dpop_key: DpopKey
) -> None:
    """RFC 9449 §4.3 step 4 and §11.5 (signed JWT swapping)."""
    token = mint(dpop_key=dpop_key)
    await refused_by(verifier, dpop_request(token, mint()), Check.DPOP_TYP, InvalidDpopProof)


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
    await refused_by(verifier, bearer_request(mint(iss=iss)), Check.ISS)


@pytest.mark.parametrize(
    "aud",
    ["account", ["account", "other-api"], [], "todo-api-admin", None, ["todo-api ", "x"]],
    ids=["other", "array-without-ours", "empty-array", "prefix-match", "missing", "whitespace"],
)
async def test_a_token_for_another_audience_is_refused(
    verifier: TokenVerifier, mint: Mint, aud: object
) -> None:
    """RFC 9068 §4 step 4 and RFC 8725 §3.9 (substitution between resource servers)."""
    await refused_by(verifier, bearer_request(mint(aud=aud)), Check.AUD)


async def test_an_expired_token_is_accepted_only_within_the_leeway(
    verifier: TokenVerifier, mint: Mint, clock: FakeClock
) -> None:
    """RFC 9068 §4 step 6 (small leeway allowed, RFC 7519 §4.1.4)."""
    await verifier.authenticate(bearer_request(mint(exp=int(clock.now) - 29)))
    await refused_by(verifier, bearer_request(mint(exp=int(clock.now) - 31)), Check.EXP)


async def test_a_token_not_valid_yet_is_refused(
    verifier: TokenVerifier, mint: Mint, clock: FakeClock
) -> None:
    """RFC 7519 §4.1.5 (nbf) and §4.1.6 (iat in the future), with the same leeway."""
    await refused_by(verifier, bearer_request(mint(nbf=int(clock.now) + 31)), Check.NBF)
    await refused_by(verifier, bearer_request(mint(iat=int(clock.now) + 31)), Check.IAT)


async def test_a_dpop_bound_token_sent_as_bearer_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §7.2: a protected resource MUST reject a DPoP-bound token received as a
    bearer token (the downgrade), even with a valid proof alongside."""
    token = mint(dpop_key=dpop_key)
    error = await refused_by(verifier, bearer_request(token), Check.SCHEME_BINDING)
    assert error.scheme == "Bearer"
    await refused_by(
        verifier,
        bearer_request(token, proofs=[prove(dpop_key, access_token=token)]),
        Check.SCHEME_BINDING,
    )


async def test_an_unbound_token_under_the_dpop_scheme_is_refused(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens; a proof cannot bind a
    bearer token after the fact."""
    token = mint()
    error = await refused_by(
        verifier, dpop_request(token, prove(dpop_key, access_token=token)), Check.SCHEME_BINDING
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
    await refused_by(verifier, bearer_request(token), Check.CNF)
    await refused_by(verifier, dpop_request(token, prove(dpop_key, access_token=token)), Check.CNF)


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
    kid, key = issuer_key(issuer)
    claims = claims_now(issuer, clock) | {claim: None}
    token = sign_compact({"alg": "RS256", "typ": "at+jwt", "kid": kid}, claims, key, "RS256")
    await refused_by(verifier, bearer_request(token), check)


@pytest.mark.parametrize(("name", "check"), NULL_HEADERS.items(), ids=NULL_HEADERS.keys())
async def test_a_null_header_parameter_is_refused_like_a_wrong_type(
    verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, name: str, check: Check
) -> None:
    """RFC 7515 §4.1: "kid": null is not "no kid" (with a single published key, a token
    without kid resolves to it)."""
    issuer.remove_key(issuer.current_kid["ES256"])
    kid, key = issuer_key(issuer)
    header = {"alg": "RS256", "typ": "at+jwt", "kid": kid} | {name: None}
    token = sign_compact(header, claims_now(issuer, clock), key, "RS256")
    await refused_by(verifier, bearer_request(token), check)


async def test_a_null_payload_typ_is_refused_under_the_jwt_switch(
    make_verifier: MakeVerifier, issuer: TestIssuer, clock: FakeClock
) -> None:
    """RFC 8725 §3.12 with OIDC_ACCEPTED_TYP allowing JWT: only an absent payload typ or Keycloak's
    Bearer/DPoP passes; null is neither."""
    verifier = make_verifier(accepted_typ="at+jwt jwt")
    kid, key = issuer_key(issuer)
    claims = claims_now(issuer, clock) | {"typ": None}
    token = sign_compact({"alg": "RS256", "typ": "JWT", "kid": kid}, claims, key, "RS256")
    await refused_by(verifier, bearer_request(token), Check.TYP)


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
    await refused_by(verifier, dpop_request(token, proof), check, InvalidDpopProof)


async def test_a_null_nonce_is_not_a_nonce(
    make_verifier: MakeVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    """RFC 9449 §9: with server nonces on, "nonce": null is asked for a nonce again."""
    verifier = make_verifier(dpop_nonce=True, dpop_nonce_secret="s")
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token, claims={"nonce": None})
    await refused_by(verifier, dpop_request(token, proof), Check.DPOP_NONCE, UseDpopNonce)
