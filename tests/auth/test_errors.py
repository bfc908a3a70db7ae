"""RFC 6750 / RFC 9449 error codes and WWW-Authenticate challenges (auth.errors)."""

from __future__ import annotations

import re

import pytest

from auth.errors import (
    AuthError,
    InsufficientScope,
    InvalidDpopProof,
    InvalidRequest,
    InvalidToken,
    MissingCredentials,
    ServiceUnavailable,
    UseDpopNonce,
    challenges,
)

ALGS = ("ES256", "RS256")
# RFC 9110 §11.2 auth-param with a quoted-string value (no escapes: we never emit any).
_PARAM = re.compile(r'([a-z_]+)="([\x20\x21\x23-\x5b\x5d-\x7e]*)"')


def _params(challenge: str) -> tuple[str, list[tuple[str, str]]]:
    scheme, _, rest = challenge.partition(" ")
    params = [
        (match.group(1), match.group(2))
        for match in (_PARAM.fullmatch(part) for part in rest.split(", "))
        if match
    ]
    assert len(params) == len(rest.split(", ")), f"malformed challenge: {challenge!r}"
    return scheme, params


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (MissingCredentials("x"), None, 401),
        (InvalidRequest("x"), "invalid_request", 400),
        (InvalidToken("x"), "invalid_token", 401),
        (InvalidDpopProof("x"), "invalid_dpop_proof", 401),
        (UseDpopNonce("x", nonce="n"), "use_dpop_nonce", 401),
        (InsufficientScope("x"), "insufficient_scope", 403),
        (ServiceUnavailable("x"), "temporarily_unavailable", 503),
    ],
)
def test_each_error_carries_its_rfc_code_and_status(
    error: AuthError, code: str | None, status: int
) -> None:
    assert (error.error, error.status_code) == (code, status)


def test_without_credentials_both_schemes_are_offered_without_an_error() -> None:
    # RFC 6750 §3.1 and RFC 9449 §7.2 (Figure 17).
    rendered = challenges(MissingCredentials("none"), realm="todo-api", dpop_algorithms=ALGS)
    assert rendered == ['Bearer realm="todo-api"', 'DPoP realm="todo-api", algs="ES256 RS256"']
    assert challenges(None, realm="todo-api", dpop_algorithms=ALGS) == rendered


def test_the_error_goes_to_the_scheme_the_client_used() -> None:
    # RFC 9449 §7.2: deliver error information in the challenge of the scheme used.
    bearer, dpop = challenges(
        InvalidToken("expired", scheme="Bearer"), realm="r", dpop_algorithms=ALGS
    )
    assert 'error="invalid_token"' in bearer
    assert "error" not in dpop
    dpop, bearer = challenges(
        InvalidToken("expired", scheme="DPoP"), realm="r", dpop_algorithms=ALGS
    )
    assert "error" not in bearer
    assert 'error="invalid_token"' in dpop


def test_proof_errors_are_always_dpop_challenges() -> None:
    for error in (InvalidDpopProof("bad"), UseDpopNonce("nonce", nonce="n")):
        dpop, bearer = challenges(error, realm="r", dpop_algorithms=ALGS)
        assert dpop.startswith("DPoP ")  # the challenge with the error comes first
        assert "error" not in bearer
        assert f'error="{error.error}"' in dpop


def test_insufficient_scope_names_the_scope() -> None:
    bearer, _ = challenges(
        InsufficientScope("needs write", scope=["todo:read", "todo:write"]),
        realm="r",
        dpop_algorithms=ALGS,
    )
    assert bearer.endswith('scope="todo:read todo:write"')


def test_service_unavailable_carries_no_error_attribute() -> None:
    rendered = challenges(ServiceUnavailable("down"), realm="r", dpop_algorithms=ALGS)
    assert all("error" not in challenge for challenge in rendered)


@pytest.mark.parametrize(
    "error",
    [
        InvalidToken('quote " backslash \\ newline \n tab \t é', scheme="DPoP"),
        InsufficientScope("x", scope=['a"b']),
        InvalidRequest("plain"),
    ],
)
def test_challenges_are_well_formed_with_each_attribute_once(error: AuthError) -> None:
    for challenge in challenges(error, realm='todo "api"', dpop_algorithms=ALGS):
        scheme, params = _params(challenge)
        assert scheme in ("Bearer", "DPoP")
        names = [name for name, _ in params]
        assert len(names) == len(set(names))
        assert names[0] == "realm"


def test_with_scheme_does_not_override_a_named_scheme() -> None:
    error = InvalidToken("x")
    assert error.with_scheme("DPoP").scheme == "DPoP"
    assert error.with_scheme("Bearer").scheme == "DPoP"
    assert InvalidDpopProof("x").with_scheme("Bearer").scheme == "DPoP"
