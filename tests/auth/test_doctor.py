"""``python -m auth.doctor``: every check reported with its values and its fix
(auth.diagnosis, auth.doctor). The CLI against a real issuer over HTTP is in
tests/integration/test_doctor.py, against Keycloak in tests/e2e/test_doctor.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from auth._diagnosis import Diagnosis, Finding, Report, Verdict
from auth._report import render, report_json
from auth._steps import Outcome
from auth.doctor import EXIT_CODES
from auth.testing import TestIssuer
from tests.auth.attacks import hmac_token
from tests.auth.fakes import IdpTransport, IsolatedSettings


async def _diagnose(issuer: TestIssuer, token: str, **settings: str) -> Report:
    values = {"issuer_uri": issuer.issuer, "audience": issuer.audience, **settings}
    transport = IdpTransport(issuer)
    async with httpx.AsyncClient(transport=transport) as client:
        report = await Diagnosis(IsolatedSettings(**values)).run(token, client)
    assert transport.unexpected == []
    return report


def _by_step(report: Report) -> dict[str, Finding]:
    return {finding.step: finding for finding in report.findings}


async def test_an_acceptable_token_passes_every_check(issuer: TestIssuer) -> None:
    report = await _diagnose(issuer, issuer.token("alice"))
    assert [f.step for f in report.findings] == [
        "parse", "alg", "typ", "issuer", "header", "key", "signature",
        "iss", "aud", "time", "claims", "cnf", "scheme", "principal",
    ]  # fmt: skip
    assert all(finding.passed for finding in report.findings)
    assert _by_step(report)["principal"].values["roles"] == ["todo-user"]
    assert render(report).endswith("result: accepted")


async def test_a_stock_keycloak_token_fails_typ_with_the_client_attribute_as_fix(
    issuer: TestIssuer,
) -> None:
    token = issuer.token("alice", header={"typ": "JWT"}, typ="Bearer")
    findings = _by_step(await _diagnose(issuer, token))
    typ = findings["typ"]
    assert not typ.passed
    assert typ.values == {"typ": "JWT", "accepted": ["at+jwt"]}
    assert typ.fix is not None
    assert "access.token.header.type.rfc9068" in typ.fix
    assert "OIDC_ACCEPTED_TYP" in typ.fix
    # The run goes on: the other checks still report.
    assert findings["signature"].passed
    assert findings["aud"].passed


async def test_each_failure_names_the_values_and_the_setting(issuer: TestIssuer) -> None:
    token = issuer.token("alice", aud="another-api", exp=1, jti=None)
    report = await _diagnose(issuer, token, provider="keycloak")
    findings = _by_step(report)
    assert findings["aud"].values == {"aud": "another-api", "accepted": ["todo-api"]}
    assert findings["aud"].fix is not None
    assert "Audience mapper" in findings["aud"].fix
    assert not findings["time"].passed
    assert findings["time"].values["exp"] == 1
    assert findings["time"].fix is not None
    assert "OIDC_LEEWAY_SECONDS" in findings["time"].fix
    assert not findings["claims"].passed
    assert findings["claims"].values["jti"] == "absent"
    assert render(report).splitlines()[-1] == "result: refused at aud"


async def test_an_unknown_issuer_is_reported_without_fetching_anything(
    issuer: TestIssuer,
) -> None:
    token = issuer.token("alice", iss=issuer.issuer + "/")
    transport = IdpTransport(issuer)
    settings = IsolatedSettings(issuer_uri=issuer.issuer, audience=issuer.audience)
    async with httpx.AsyncClient(transport=transport) as client:
        report = await Diagnosis(settings).run(token, client)
    assert transport.urls == []
    findings = _by_step(report)
    assert findings["parse"].passed
    assert not findings["issuer"].passed
    assert "trailing slash" in (findings["issuer"].description or "")
    assert report.decided_by is findings["issuer"]
    # What needs the issuer's keys or policy is not tried.
    assert {findings[name].outcome for name in ("key", "signature", "iss", "aud", "claims")} == {
        Outcome.SKIP
    }


async def test_the_report_never_shows_the_signature_or_the_token(issuer: TestIssuer) -> None:
    token = issuer.token("alice", aud="another-api")
    report = render(await _diagnose(issuer, token))
    signature = token.rsplit(".", 1)[1]
    assert signature[:16] not in report
    assert token.split(".")[1][:16] not in report


async def test_times_are_shown_in_iso_8601_beside_their_epoch_values(issuer: TestIssuer) -> None:
    token = issuer.token(iat=1_750_000_000, nbf=1_750_000_000, exp=1_750_000_300)
    report = await _diagnose(issuer, token)
    text = render(report)
    assert "exp=1750000300 (2025-06-15T15:11:40Z)" in text
    assert "iat=1750000000 (2025-06-15T15:06:40Z)" in text
    (time,) = [f for f in _json(report)["findings"] if f["step"] == "time"]
    assert time["values"]["exp"] == 1_750_000_300
    assert time["times"]["exp"] == "2025-06-15T15:11:40Z"
    assert time["times"]["nbf"] == "2025-06-15T15:06:40Z"
    assert time["times"]["now"].endswith("Z")


def _json(report: Report, *, show_claims: bool = False) -> dict[str, Any]:
    def not_json(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    text = report_json(report, exit_code=EXIT_CODES[report.verdict], show_claims=show_claims)
    document: dict[str, Any] = json.loads(text, parse_constant=not_json)
    return document


FINDING_MEMBERS = {
    "step", "outcome", "values", "times", "check", "error", "status", "description", "fix",
}  # fmt: skip


async def test_the_json_report_follows_its_documented_schema(issuer: TestIssuer) -> None:
    report = await _diagnose(issuer, issuer.token(aud="another-api"))
    document = _json(report)
    assert set(document) == {
        "doctor", "result", "exit_code", "decided_by", "provider", "issuer", "findings",
    }  # fmt: skip
    assert document["doctor"] == 1
    assert (document["result"], document["exit_code"]) == ("refused", 1)
    assert document["decided_by"] == {
        "step": "aud",
        "check": "aud",
        "error": "invalid_token",
        "status": 401,
    }
    assert document["issuer"] == issuer.issuer
    assert all(set(finding) == FINDING_MEMBERS for finding in document["findings"])
    outcomes = {finding["outcome"] for finding in document["findings"]}
    assert outcomes <= {"pass", "fail", "unavailable", "skip"}
    (aud,) = [f for f in document["findings"] if f["step"] == "aud"]
    assert aud["values"] == {"aud": "another-api", "accepted": ["todo-api"]}
    assert "Audience mapper" in aud["fix"]
    # A missing member is left out, a null one is null.
    (cnf,) = [f for f in document["findings"] if f["step"] == "cnf"]
    assert cnf["values"] == {}


async def test_an_accepted_token_is_result_accepted_with_exit_code_0(issuer: TestIssuer) -> None:
    document = _json(await _diagnose(issuer, issuer.token()))
    assert (document["result"], document["exit_code"], document["decided_by"]) == (
        "accepted",
        0,
        None,
    )


async def test_show_claims_prints_header_and_payload_never_the_signature(
    issuer: TestIssuer,
) -> None:
    token = issuer.token(email="carol@example.test")
    report = await _diagnose(issuer, token)
    signature = token.rsplit(".", 1)[1]
    shown = render(report, show_claims=True)
    assert '"email": "carol@example.test"' in shown
    assert '"kid":' in shown
    assert signature not in shown
    assert "carol@example.test" not in render(report)
    document = _json(report, show_claims=True)
    assert document["claims"]["email"] == "carol@example.test"
    assert document["header"]["typ"] == "at+jwt"
    assert signature not in json.dumps(document)
    assert "claims" not in _json(report)


async def test_hs256_is_refused_with_a_fix_that_can_be_applied(issuer: TestIssuer) -> None:
    kid = issuer.current_kid["RS256"]
    token = hmac_token({"alg": "HS256", "typ": "at+jwt", "kid": kid}, issuer.claims(), b"k")
    report = await _diagnose(issuer, token)
    alg = _by_step(report)["alg"]
    assert alg.outcome is Outcome.FAIL
    assert alg.values["alg"] == "HS256"
    assert alg.fix is not None
    assert "no setting accepts it" in alg.fix
    assert "OIDC_ALGORITHMS" not in alg.fix
    (line,) = [line for line in render(report).splitlines() if " alg " in line]
    assert "FAIL" in line
    assert "allowed" not in line


async def test_an_algorithm_left_out_of_the_settings_names_the_setting(
    issuer: TestIssuer,
) -> None:
    report = await _diagnose(issuer, issuer.token(), algorithms="ES256")
    alg = _by_step(report)["alg"]
    assert alg.outcome is Outcome.FAIL
    assert alg.fix == "add RS256 to OIDC_ALGORITHMS"


#: Auth0's token for /userinfo when no audience is named: a "dir" JWE (five segments).
JWE = (
    "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiaXNzIjoiaHR0cHM6Ly90ZW5hbnQuYXV0aDAuY29tLyJ9"
    "..aXY.Y2lwaGVy.dGFn"
)


@pytest.mark.parametrize(
    ("token", "provider", "expected"),
    [
        (JWE, "auth0", ["encrypted token (JWE", "audience=<your API's identifier>"]),
        ("a1B2c3D4e5F6g7H8i9J0", "auth0", ["opaque token", "audience="]),
        ("a1B2c3D4e5F6g7H8i9J0", "okta", ["opaque token", "custom authorization server"]),
        (JWE, "entra", ["JWE", "api://<API client id>/.default"]),
        ("a1B2c3D4e5F6g7H8i9J0", "keycloak", ["opaque token", "RFC 9068"]),
    ],
    ids=["jwe-auth0", "opaque-auth0", "opaque-okta", "jwe-entra", "opaque-generic"],
)
async def test_a_jwe_or_an_opaque_token_gets_the_providers_fix(
    issuer: TestIssuer, token: str, provider: str, expected: list[str]
) -> None:
    report = await _diagnose(issuer, token, provider=provider)
    (parse,) = report.findings
    assert parse.outcome is Outcome.FAIL
    assert parse.values["shape"] == ("jwe" if token is JWE else "opaque")
    assert parse.fix is not None
    for text in expected:
        assert text in parse.fix


async def test_an_okta_org_server_token_is_told_apart(issuer: TestIssuer) -> None:
    token = issuer.token(iss="https://dev-123.okta.com", aud="https://dev-123.okta.com")
    report = await _diagnose(issuer, token, provider="okta")
    decided_by = report.decided_by
    assert decided_by is not None
    assert decided_by.step == "issuer"
    assert decided_by.fix is not None
    assert "org authorization server" in decided_by.fix


async def test_an_entra_v1_token_where_v2_is_configured_names_the_manifest_setting() -> None:
    v2 = TestIssuer("https://login.microsoftonline.com/tid/v2.0", audience="api-client-id")
    token = v2.token(iss="https://sts.windows.net/tid/", header={"typ": "JWT"}, azp="client")
    report = await _diagnose(v2, token, provider="entra")
    decided_by = report.decided_by
    assert decided_by is not None
    assert decided_by.step == "issuer"
    assert decided_by.fix is not None
    assert "requestedAccessTokenVersion to 2" in decided_by.fix


async def test_a_microsoft_graph_token_is_told_apart() -> None:
    entra = TestIssuer("https://login.microsoftonline.com/tid/v2.0", audience="api-client-id")
    token = entra.token(
        aud="00000003-0000-0000-c000-000000000000", header={"typ": "JWT"}, azp="client"
    )
    report = await _diagnose(entra, token, provider="entra")
    aud = _by_step(report)["aud"]
    assert aud.outcome is Outcome.FAIL
    assert aud.fix is not None
    assert "Microsoft Graph" in aud.fix


async def test_keys_that_cannot_be_fetched_are_undecided_not_refused(issuer: TestIssuer) -> None:
    issuer.available = False
    report = await _diagnose(issuer, issuer.token())
    key = _by_step(report)["key"]
    assert key.outcome is Outcome.UNAVAILABLE
    assert key.check == "keys_unavailable"
    assert report.verdict is Verdict.UNDECIDED
    assert _json(report)["exit_code"] == 3
    assert render(report).endswith("the server would answer 503")


async def test_a_failure_before_the_keys_decides_even_when_keys_are_unavailable(
    issuer: TestIssuer,
) -> None:
    # As the server: a wrong typ is refused before any key is looked up.
    issuer.available = False
    report = await _diagnose(issuer, issuer.token(header={"typ": "JWT"}))
    assert report.verdict is Verdict.REFUSED
    assert report.decided_by is not None
    assert report.decided_by.step == "typ"
