"""auth/README.md's quick start per provider (Keycloak, Auth0, Entra ID, Okta): each block
is read as environment variables by ``read_settings``, as a deployment would, and accepts
the token that provider's checklist (docs/providers/) shows, signed by a test issuer
served under the provider's own issuer URL, with the roles and scopes it carries.

Auth0, Entra ID and Okta cannot run here; Keycloak also runs for real in the e2e tier."""

from __future__ import annotations

import io
import os
import re
import time
from typing import Any

import httpx
import pytest
from dotenv import dotenv_values

from auth import AuthSettings, Principal, create_authenticator, read_settings
from auth._errors import Check, InvalidToken
from auth.testing import DpopKey, TestIssuer, sign_compact
from tests.auth.fakes import http_request
from tests.docs.checklists import checklist_path, sample_token
from tests.services import ROOT

_BLOCK = re.compile(r"<!-- quick start: (?P<name>[\w-]+) -->\n```dotenv\n(?P<text>.*?)```", re.S)
QUICK_STARTS = {
    match["name"]: match["text"] for match in _BLOCK.finditer((ROOT / "auth/README.md").read_text())
}
#: Each quick start, and the checklist whose sample token it must accept.
CHECKLIST = {
    "keycloak": "keycloak",
    "auth0": "auth0",
    "entra": "entra",
    "entra-multi-tenant": "entra",
    "okta": "okta",
}


@pytest.fixture(autouse=True)
def _only_the_quick_start(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("OIDC_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def signer() -> TestIssuer:
    return TestIssuer()


def test_every_provider_has_a_quick_start() -> None:
    assert set(QUICK_STARTS) == set(CHECKLIST)
    for name, text in QUICK_STARTS.items():
        assert len(text.splitlines()) <= 4, name  # short


def _settings(name: str, monkeypatch: pytest.MonkeyPatch) -> AuthSettings:
    values = dotenv_values(stream=io.StringIO(QUICK_STARTS[name]))
    for variable, value in values.items():
        assert value is not None
        monkeypatch.setenv(variable, value)
    return read_settings()


async def _authenticate(
    settings: AuthSettings,
    header: dict[str, Any],
    payload: dict[str, Any],
    signer: TestIssuer,
    asked: list[str],
) -> Principal:
    """The principal of the token, with every URL the verifier asked for in ``asked``."""
    issuer = payload["iss"]
    discovery = issuer.rstrip("/") + "/.well-known/openid-configuration"

    def provider(request: httpx.Request) -> httpx.Response:
        # The provider's discovery, under its own issuer URL, names the test signer's keys.
        asked.append(str(request.url))
        if str(request.url) == discovery:
            return httpx.Response(200, json={"issuer": issuer, "jwks_uri": signer.jwks_uri})
        return signer.handle(request)

    now = int(time.time())
    payload = payload | {"iat": now - 10, "exp": now + 600}
    payload |= {name: now - 60 for name in ("nbf", "auth_time") if name in payload}
    dpop_key = DpopKey() if "cnf" in payload else None
    if dpop_key is not None:
        payload["cnf"] = {"jkt": dpop_key.jkt}
    kid = signer.current_kid["RS256"]
    token = sign_compact({**header, "kid": kid}, payload, signer.keys[kid][1], "RS256")
    url = "https://api.example/api/me"
    request = (
        http_request(
            url=url,
            authorization=[f"DPoP {token}"],
            proofs=[dpop_key.proof("GET", url, access_token=token)],
        )
        if dpop_key is not None
        else http_request(url=url, authorization=[f"Bearer {token}"])
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        # In production: a quick start whose provider answer could never work would stop.
        authenticator = create_authenticator(settings, production=True, http_client=client)
        await authenticator.start()
        try:
            return await authenticator.authenticate(request)
        finally:
            await authenticator.aclose()


@pytest.mark.parametrize("name", sorted(CHECKLIST))
async def test_a_quick_start_accepts_its_providers_token(
    name: str, signer: TestIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(name, monkeypatch)
    header, payload = sample_token(checklist_path(CHECKLIST[name]))
    asked: list[str] = []
    principal = await _authenticate(settings, header, payload, signer, asked)
    # Discovery under the configured issuer, then its keys: nothing else.
    assert asked == [
        payload["iss"].rstrip("/") + "/.well-known/openid-configuration",
        signer.jwks_uri,
    ]
    assert principal.subject == payload["sub"]
    assert {"todo-admin", "todo-user"} <= principal.roles
    assert principal.scopes
    assert principal.client_id


async def test_the_auth0_quick_start_reads_the_namespaced_role_claim_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings("auth0", monkeypatch)
    assert settings.role_claims == ("https://api.example/roles",)
    assert str(settings.issuer_uri).endswith("/")


async def test_the_multi_tenant_quick_start_refuses_another_tenant_without_a_fetch(
    signer: TestIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings("entra-multi-tenant", monkeypatch)
    header, payload = sample_token(checklist_path("entra"))
    other = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    payload = payload | {
        "iss": f"https://login.microsoftonline.com/{other}/v2.0",
        "tid": other,
    }
    asked: list[str] = []
    with pytest.raises(InvalidToken) as refused:
        await _authenticate(settings, header, payload, signer, asked)
    assert refused.value.check is Check.ISS
    assert asked == []
