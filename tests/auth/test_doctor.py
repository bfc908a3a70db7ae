"""``python -m auth.doctor``: every check reported with its values and its fix
(auth.diagnosis, auth.doctor). The CLI against a real issuer over HTTP is in
tests/integration/test_doctor.py, against Keycloak in tests/e2e/test_doctor.py."""

from __future__ import annotations

import httpx

from auth._diagnosis import Diagnosis, Finding
from auth.doctor import render
from auth.testing import TestIssuer
from tests.auth.fakes import IdpTransport, IsolatedSettings


async def _diagnose(issuer: TestIssuer, token: str, **settings: str) -> list[Finding]:
    values = {"issuer_uri": issuer.issuer, "audience": issuer.audience, **settings}
    transport = IdpTransport(issuer)
    async with httpx.AsyncClient(transport=transport) as client:
        findings = await Diagnosis(IsolatedSettings(**values)).run(token, client)
    assert transport.unexpected == []
    return findings


def _by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings}


async def test_an_acceptable_token_passes_every_check(issuer: TestIssuer) -> None:
    findings = await _diagnose(issuer, issuer.token("alice"))
    assert [f.check for f in findings] == [
        "parse", "issuer", "alg", "typ", "header", "keys", "signature",
        "iss", "aud", "time", "claims", "cnf", "principal",
    ]  # fmt: skip
    assert all(finding.passed for finding in findings)
    assert "roles=['todo-user']" in _by_check(findings)["principal"].detail
    assert render(findings).endswith("result: accepted")


async def test_a_stock_keycloak_token_fails_typ_with_the_client_attribute_as_fix(
    issuer: TestIssuer,
) -> None:
    token = issuer.token("alice", header={"typ": "JWT"}, typ="Bearer")
    findings = _by_check(await _diagnose(issuer, token))
    typ = findings["typ"]
    assert not typ.passed
    assert "typ='JWT', accepted: at+jwt" in typ.detail
    assert typ.fix is not None
    assert "access.token.header.type.rfc9068" in typ.fix
    assert "OIDC_ACCEPTED_TYP" in typ.fix
    # The run goes on: the other checks still report.
    assert findings["signature"].passed
    assert findings["aud"].passed


async def test_each_failure_names_the_values_and_the_setting(issuer: TestIssuer) -> None:
    token = issuer.token("alice", aud="another-api", exp=1, jti=None)
    findings = _by_check(await _diagnose(issuer, token, provider="keycloak"))
    assert "aud='another-api', this API: todo-api" in findings["aud"].detail
    assert findings["aud"].fix is not None
    assert "Audience mapper" in findings["aud"].fix
    assert not findings["time"].passed
    assert "exp=1" in findings["time"].detail
    assert findings["time"].fix is not None
    assert "OIDC_LEEWAY_SECONDS" in findings["time"].fix
    assert not findings["claims"].passed
    assert "jti=absent" in findings["claims"].detail
    assert render(list(findings.values())).splitlines()[-1] == "result: refused at aud"


async def test_an_unknown_issuer_is_reported_without_fetching_anything(
    issuer: TestIssuer,
) -> None:
    token = issuer.token("alice", iss=issuer.issuer + "/")
    transport = IdpTransport(issuer)
    settings = IsolatedSettings(issuer_uri=issuer.issuer, audience=issuer.audience)
    async with httpx.AsyncClient(transport=transport) as client:
        findings = await Diagnosis(settings).run(token, client)
    assert transport.urls == []
    (parse, issuer_finding) = findings
    assert parse.passed
    assert not issuer_finding.passed
    assert "trailing slash" in issuer_finding.detail


async def test_the_report_never_shows_the_signature_or_the_token(issuer: TestIssuer) -> None:
    token = issuer.token("alice", aud="another-api")
    report = render(await _diagnose(issuer, token))
    signature = token.rsplit(".", 1)[1]
    assert signature[:16] not in report
    assert token.split(".")[1][:16] not in report
