"""``python -m auth.doctor``: every check reported with its values and its fix
(auth.diagnosis, auth.doctor). The CLI against a real issuer over HTTP is in
tests/integration/test_doctor.py, against Keycloak in tests/e2e/test_doctor.py."""

from __future__ import annotations

import httpx

from auth._diagnosis import Diagnosis, Finding, Report
from auth._report import render
from auth._steps import Outcome
from auth.testing import TestIssuer
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
