"""Is it an access token? Header typ per profile, and the markers of other JWTs
(auth.token_kind; RFC 9068 §4 step 1, RFC 8725 §3.11, OpenID Connect Core §2,
Back-Channel Logout §2.4, RFC 9449 §4.2)."""

from __future__ import annotations

import pytest

from auth._errors import Check, InvalidToken
from auth._profiles import PROFILES, Provider
from auth._token_kind import ID_TOKEN_CLAIMS, check_type
from tests.auth.refusals import refused

STRICT = frozenset({"at+jwt"})
RELAXED = frozenset({"at+jwt", "jwt", "absent"})


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT", "Application/At+Jwt"])
def test_at_jwt_in_either_media_type_form_is_accepted(typ: str) -> None:
    # RFC 9068 §4 step 1 (and §2.1); media types compare case-insensitively.
    check_type({"typ": typ}, {}, accepted=STRICT)


@pytest.mark.parametrize("typ", ["JWT", "jwt", None, "dpop+jwt", "at+jwt ", 1, ["at+jwt"]])
def test_strictly_other_types_are_refused(typ: object) -> None:
    header = {} if typ is None else {"typ": typ}
    with refused(Check.TYP, InvalidToken):
        check_type(header, {}, accepted=STRICT)


@pytest.mark.parametrize("header", [{"typ": "JWT"}, {"typ": "application/jwt"}, {}])
def test_a_relaxed_profile_accepts_jwt_and_no_typ(header: dict[str, object]) -> None:
    check_type(header, {"scp": "read"}, accepted=RELAXED)


@pytest.mark.parametrize("typ", ["dpop+jwt", "logout+jwt", "secevent+jwt", "id_token+jwt"])
def test_no_profile_accepts_other_explicit_types(typ: str) -> None:
    with refused(Check.TYP, InvalidToken):
        check_type({"typ": typ}, {}, accepted=RELAXED)


@pytest.mark.parametrize("payload_typ", [None, "Bearer", "DPoP", "bearer"])
def test_keycloak_access_tokens_under_typ_jwt_are_accepted(payload_typ: str | None) -> None:
    claims = {} if payload_typ is None else {"typ": payload_typ}
    check_type({"typ": "JWT"}, claims, accepted=RELAXED)


@pytest.mark.parametrize("payload_typ", ["ID", "Refresh", "Offline", "Logout", 7])
def test_keycloaks_other_tokens_are_refused_by_their_payload_typ(payload_typ: object) -> None:
    with refused(Check.TYP, InvalidToken):
        check_type({"typ": "JWT"}, {"typ": payload_typ}, accepted=RELAXED)


@pytest.mark.parametrize(
    "claims",
    [
        {"at_hash": "x"},  # an ID token issued beside an access token
        {"c_hash": "x"},  # an ID token issued beside a code
        {"s_hash": "x"},
        {"events": {"http://schemas.openid.net/event/backchannel-logout": {}}},  # logout
        {"htm": "GET", "htu": "https://api.example/"},  # a DPoP proof's claims
    ],
)
def test_other_kinds_of_jwt_are_refused_without_at_jwt(claims: dict[str, object]) -> None:
    with refused(Check.TYP, InvalidToken):
        check_type({"typ": "JWT"}, claims, accepted=RELAXED)
    with refused(Check.TYP, InvalidToken):
        check_type({}, claims, accepted=RELAXED)


def test_a_non_string_typ_is_refused() -> None:
    with refused(Check.TYP, InvalidToken):
        check_type({"typ": None}, {}, accepted=RELAXED)


ID_CLAIM_VALUES = {"nonce": "n-0S6_WzA2Mj", "auth_time": 1_700_000_000, "sid": "08a5019c"}


def _id_claims_case(
    provider: Provider, claim: str, *, marked: bool
) -> tuple[bool, dict[str, object]]:
    """(whether the profile documents ``claim`` in its access tokens, the payload)."""
    allowance = PROFILES[provider].id_claims_in_access_tokens
    claims: dict[str, object] = {claim: ID_CLAIM_VALUES[claim]}
    if marked and allowance is not None:
        claims[allowance.marker] = "Bearer" if allowance.marker == "typ" else "marker"
    documented = allowance is not None and marked and claim in allowance.claims
    return documented, claims


@pytest.mark.parametrize("claim", ID_TOKEN_CLAIMS)
@pytest.mark.parametrize("provider", list(Provider), ids=str)
@pytest.mark.parametrize("marked", [True, False], ids=["with-marker", "without-marker"])
def test_id_token_claims_mark_an_id_token_unless_the_profile_documents_them(
    provider: Provider, claim: str, marked: bool
) -> None:
    """Without at+jwt, nonce, auth_time or sid say "ID token", unless the provider's
    profile cites its documentation for that claim in access tokens, and the claim only
    its access tokens carry is there too (Keycloak's payload typ, Okta's cid, authentik's
    uid)."""
    documented, claims = _id_claims_case(provider, claim, marked=marked)
    profile = PROFILES[provider]
    allowed = (profile.id_claims_in_access_tokens,) if profile.id_claims_in_access_tokens else ()
    if documented:
        check_type({"typ": "JWT"}, claims, accepted=RELAXED, id_claims=allowed)
    else:
        with refused(Check.TYP, InvalidToken):
            check_type({"typ": "JWT"}, claims, accepted=RELAXED, id_claims=allowed)
        with refused(Check.TYP, InvalidToken):
            check_type({}, claims, accepted=RELAXED, id_claims=allowed)
    # at+jwt says "access token" by itself, whatever else the payload holds.
    check_type({"typ": "at+jwt"}, claims, accepted=STRICT, id_claims=())


def test_which_profiles_document_id_token_claims_in_access_tokens() -> None:
    documented = {
        provider.value: sorted(allowance.claims)
        for provider, profile in PROFILES.items()
        if (allowance := profile.id_claims_in_access_tokens) is not None
    }
    assert documented == {
        "authentik": ["auth_time", "nonce", "sid"],
        "keycloak": ["auth_time", "sid"],
        "okta": ["auth_time"],
    }


def test_a_hash_claim_is_never_documented_away() -> None:
    for profile in PROFILES.values():
        allowance = profile.id_claims_in_access_tokens
        if allowance is None:
            continue
        claims = {"at_hash": "x", allowance.marker: "Bearer", "auth_time": 1}
        with refused(Check.TYP, InvalidToken):
            check_type({"typ": "JWT"}, claims, accepted=RELAXED, id_claims=(allowance,))
