"""Finding the access token in a request (auth.credentials): RFC 6750 §2, RFC 9449 §7.1."""

from __future__ import annotations

import pytest

from auth._credentials import Credentials, check_token_syntax, extract_credentials
from auth._errors import Check, InvalidRequest, MissingCredentials
from tests.auth.fakes import http_request
from tests.auth.refusals import refused

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
PROOF = "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.c2ln"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_a_bearer_token_is_found_whatever_the_case_of_the_scheme(scheme: str) -> None:
    credentials = extract_credentials(http_request(authorization=[f"{scheme} {TOKEN}"]))
    assert credentials == Credentials(scheme="Bearer", token=TOKEN, proofs=())


def test_a_dpop_token_comes_with_its_proofs() -> None:
    request = http_request(authorization=[f"DPoP {TOKEN}"], proofs=[PROOF])
    assert extract_credentials(request) == Credentials(scheme="DPoP", token=TOKEN, proofs=(PROOF,))


def test_every_dpop_header_is_kept_so_duplicates_can_be_refused() -> None:
    request = http_request(authorization=[f"DPoP {TOKEN}"], proofs=[PROOF, PROOF])
    assert extract_credentials(request).proofs == (PROOF, PROOF)


def test_token68_characters_are_accepted() -> None:
    # RFC 9449 §7.1 Figure 13's token uses "~" and "."; token68 also allows "+/=".
    for token in ("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", "abc+/==", "a_b-c"):
        assert extract_credentials(http_request(authorization=[f"Bearer {token}"])).token == token


def test_extra_spaces_around_the_token_are_tolerated() -> None:
    request = http_request(authorization=[f"  Bearer   {TOKEN}  "])
    assert extract_credentials(request).token == TOKEN


@pytest.mark.parametrize(
    "authorization",
    [[], [f"Basic {TOKEN}"], ["Negotiate abc"], [TOKEN]],
    ids=["none", "basic", "negotiate", "no-scheme"],
)
def test_no_supported_credentials_is_missing_credentials(authorization: list[str]) -> None:
    # RFC 6750 §3.1: the challenge then carries no error code.
    with refused(Check.CREDENTIALS, MissingCredentials):
        extract_credentials(http_request(authorization=authorization))


def test_two_authorization_headers_are_an_invalid_request() -> None:
    request = http_request(authorization=[f"Bearer {TOKEN}", f"DPoP {TOKEN}"])
    with refused(Check.DUPLICATE_CREDENTIALS, InvalidRequest):
        extract_credentials(request)


@pytest.mark.parametrize(
    "credentials",
    ["Bearer", "Bearer ", "Bearer a b", "Bearer a,b", 'Bearer "abc"', "Bearer ab=c", "Bearer é"],
)
def test_malformed_credentials_are_an_invalid_request(credentials: str) -> None:
    with refused(Check.TOKEN68, InvalidRequest) as caught:
        check_token_syntax(extract_credentials(http_request(authorization=[credentials])))
    assert caught.value.scheme == "Bearer"


def test_a_token_in_the_query_string_is_refused() -> None:
    # RFC 6750 §2.3 is not supported: URLs end up in logs.
    with refused(Check.QUERY_TOKEN, InvalidRequest):
        extract_credentials(http_request(query=f"access_token={TOKEN}"))


def test_a_token_in_the_query_string_and_a_header_is_refused() -> None:
    request = http_request(authorization=[f"Bearer {TOKEN}"], query=f"x=1&access_token={TOKEN}")
    with refused(Check.DUPLICATE_CREDENTIALS, InvalidRequest):
        extract_credentials(request)


def test_a_query_parameter_that_merely_contains_the_name_is_not_a_token() -> None:
    request = http_request(
        authorization=[f"Bearer {TOKEN}"], query="my_access_token=1&q=access_token"
    )
    assert extract_credentials(request).token == TOKEN


def test_the_dpop_scheme_without_a_proof_is_an_invalid_request() -> None:
    with refused(Check.DPOP_MISSING, InvalidRequest) as caught:
        extract_credentials(http_request(authorization=[f"DPoP {TOKEN}"]))
    assert caught.value.scheme == "DPoP"


def test_a_bearer_token_ignores_a_dpop_header() -> None:
    request = http_request(authorization=[f"Bearer {TOKEN}"], proofs=[PROOF])
    assert extract_credentials(request).scheme == "Bearer"
