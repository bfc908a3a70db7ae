"""RFC 6750 / RFC 9449 error codes and WWW-Authenticate challenges (auth.errors)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from auth._errors import (
    AuthError,
    Check,
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
        (MissingCredentials("x", check=Check.CREDENTIALS), None, 401),
        (InvalidRequest("x", check=Check.TOKEN68), "invalid_request", 400),
        (InvalidToken("x", check=Check.AUD), "invalid_token", 401),
        (InvalidDpopProof("x", check=Check.DPOP_HTU), "invalid_dpop_proof", 401),
        (UseDpopNonce("x", nonce="n"), "use_dpop_nonce", 401),
        (InsufficientScope("x", check=Check.REQUIRED_ROLE), "insufficient_scope", 403),
        (ServiceUnavailable("x", check=Check.REPLAY_STORE), "temporarily_unavailable", 503),
    ],
)
def test_each_error_carries_its_rfc_code_and_status(
    error: AuthError, code: str | None, status: int
) -> None:
    assert (error.error, error.status_code) == (code, status)


def test_without_credentials_both_schemes_are_offered_without_an_error() -> None:
    # RFC 6750 §3.1 and RFC 9449 §7.2 (Figure 17).
    rendered = challenges(
        MissingCredentials("none", check=Check.CREDENTIALS), realm="todo-api", dpop_algorithms=ALGS
    )
    assert rendered == ['Bearer realm="todo-api"', 'DPoP realm="todo-api", algs="ES256 RS256"']
    assert challenges(None, realm="todo-api", dpop_algorithms=ALGS) == rendered


def test_the_error_goes_to_the_scheme_the_client_used() -> None:
    # RFC 9449 §7.2: deliver error information in the challenge of the scheme used.
    bearer, dpop = challenges(
        InvalidToken("expired", check=Check.EXP, scheme="Bearer"), realm="r", dpop_algorithms=ALGS
    )
    assert 'error="invalid_token"' in bearer
    assert "error" not in dpop
    dpop, bearer = challenges(
        InvalidToken("expired", check=Check.EXP, scheme="DPoP"), realm="r", dpop_algorithms=ALGS
    )
    assert "error" not in bearer
    assert 'error="invalid_token"' in dpop


def test_proof_errors_are_always_dpop_challenges() -> None:
    for error in (
        InvalidDpopProof("bad", check=Check.DPOP_ATH),
        UseDpopNonce("nonce", nonce="n"),
    ):
        dpop, bearer = challenges(error, realm="r", dpop_algorithms=ALGS)
        assert dpop.startswith("DPoP ")  # the challenge with the error comes first
        assert "error" not in bearer
        assert f'error="{error.error}"' in dpop


def test_insufficient_scope_names_the_scope() -> None:
    bearer, _ = challenges(
        InsufficientScope(
            "needs write", check=Check.REQUIRED_SCOPE, scope=["todo:read", "todo:write"]
        ),
        realm="r",
        dpop_algorithms=ALGS,
    )
    assert bearer.endswith('scope="todo:read todo:write"')


def test_service_unavailable_carries_no_error_attribute() -> None:
    rendered = challenges(
        ServiceUnavailable("down", check=Check.KEYS_UNAVAILABLE), realm="r", dpop_algorithms=ALGS
    )
    assert all("error" not in challenge for challenge in rendered)


@pytest.mark.parametrize(
    "error",
    [
        InvalidToken('quote " backslash \\ newline \n tab \t é', check=Check.SUB, scheme="DPoP"),
        InsufficientScope("x", check=Check.REQUIRED_SCOPE, scope=['a"b']),
        InvalidRequest("plain", check=Check.TOKEN68),
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
    error = InvalidToken("x", check=Check.ISS)
    attributed = error.with_scheme("DPoP")
    assert attributed.scheme == "DPoP"
    assert attributed.with_scheme("Bearer").scheme == "DPoP"
    assert attributed.with_scheme("Bearer") is attributed


def test_with_scheme_returns_a_copy_and_leaves_the_error_as_it_was() -> None:
    error = InvalidToken("the token expired", check=Check.EXP)
    attributed = error.with_scheme("DPoP")
    assert attributed is not error
    assert error.scheme is None  # a kept error is raised again unchanged
    assert type(attributed) is InvalidToken
    assert (attributed.check, attributed.description, attributed.args) == (
        Check.EXP,
        "the token expired",
        ("the token expired",),
    )
    nonce = UseDpopNonce("stale nonce", nonce="n-1").with_scheme("Bearer")
    assert nonce.nonce == "n-1"
    assert InvalidDpopProof("x", check=Check.DPOP_JTI).with_scheme("Bearer").scheme == "DPoP"


README = Path(__file__).resolve().parents[2] / "auth" / "README.md"
_ROW = re.compile(r"^\| `([a-z0-9_.]+)` \|.*\| (\(none\)|`[a-z_]+`) \| (\d{3}) \|$")
# The (error, status) pairs the AuthError family can produce.
_CODES = {
    (cls.error, cls.status_code)
    for cls in (
        MissingCredentials,
        InvalidRequest,
        InvalidToken,
        InvalidDpopProof,
        UseDpopNonce,
        InsufficientScope,
        ServiceUnavailable,
    )
}


def _documented_checks() -> dict[str, tuple[str | None, int]]:
    section = README.read_text().split("## Error codes", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str | None, int]] = {}
    for line in section.splitlines():
        if match := _ROW.match(line):
            name, code, status = match.groups()
            assert name not in rows, f"{name} is documented twice"
            rows[name] = (None if code == "(none)" else code.strip("`"), int(status))
    return rows


def test_every_check_is_documented_once_with_a_real_code_and_status() -> None:
    documented = _documented_checks()
    assert set(documented) == {check.value for check in Check}
    assert set(documented.values()) <= _CODES


def test_check_values_are_short_flat_identifiers() -> None:
    # Stable names for logs and metrics: lower case, no spaces, at most one "dpop." prefix.
    for check in Check:
        assert re.fullmatch(r"(dpop\.)?[a-z0-9_]+", check.value), check


def _raised_checks() -> set[tuple[str, str]]:
    """(error class, check name) of every ``SomeError(..., check=Check.X)`` in auth/."""
    found = set()
    for module in (README.parent).rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                for keyword in node.keywords:
                    value = keyword.value
                    if (
                        keyword.arg == "check"
                        and isinstance(value, ast.Attribute)
                        and isinstance(value.value, ast.Name)
                        and value.value.id == "Check"
                    ):
                        found.add((node.func.id, value.attr))
    return found


def test_the_documented_code_of_each_check_is_the_code_it_is_raised_with() -> None:
    classes = {cls.__name__: cls for cls in AuthError.__subclasses__()}
    documented = _documented_checks()
    raised = _raised_checks()
    assert len(raised) > 40  # the scan sees the raise sites
    for class_name, check_name in raised:
        cls = classes[class_name]
        check = Check[check_name]
        assert documented[check.value] == (cls.error, cls.status_code), (class_name, check)
