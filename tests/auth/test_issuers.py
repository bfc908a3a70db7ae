"""Several trusted issuers (OIDC_ISSUERS): the token's iss picks the configuration before
any key is fetched, each issuer has its own key set and readiness, an unknown issuer is
refused without a network call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from auth import create_authenticator
from auth._errors import Check, InvalidToken, ServiceUnavailable
from auth._verifier import Authenticator
from auth.testing import TestIssuer
from tests.auth.fakes import IsolatedSettings, clone_issuer, http_request
from tests.auth.refusals import refused

AUDIENCE = "https://api.example/"


class Issuers(httpx.MockTransport):
    """Several test issuers behind one transport, recording every URL asked for."""

    def __init__(self, *issuers: TestIssuer) -> None:
        self.issuers = issuers
        self.urls: list[str] = []
        super().__init__(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        for issuer in self.issuers:
            if str(request.url) in (issuer.discovery_uri, issuer.jwks_uri):
                return issuer.handle(request)
        return httpx.Response(404)


@pytest.fixture
def keycloak(issuer_template: TestIssuer) -> TestIssuer:
    issuer = clone_issuer(issuer_template)
    issuer.issuer, issuer.audience = "https://kc.example/realms/a", AUDIENCE
    return issuer


@pytest.fixture
def okta(issuer_template: TestIssuer) -> TestIssuer:
    issuer = TestIssuer("https://tenant-b.okta.example/oauth2/default", audience=AUDIENCE)
    return issuer


@pytest.fixture
def stranger(issuer_template: TestIssuer) -> TestIssuer:
    issuer = clone_issuer(issuer_template)
    issuer.issuer = "https://evil.example/realms/a"
    return issuer


@pytest.fixture
def transport(keycloak: TestIssuer, okta: TestIssuer, stranger: TestIssuer) -> Issuers:
    return Issuers(keycloak, okta, stranger)


def _settings(keycloak: TestIssuer, okta: TestIssuer, **overrides: Any) -> IsolatedSettings:
    issuers = [
        {"issuer": keycloak.issuer, "audience": AUDIENCE, "provider": "keycloak"},
        {"issuer": okta.issuer, "audience": f"api://b {AUDIENCE}", "provider": "okta"},
    ]
    return IsolatedSettings(issuers=json.dumps(issuers), **overrides)


@pytest.fixture
async def authenticator(
    keycloak: TestIssuer, okta: TestIssuer, transport: Issuers
) -> AsyncIterator[Authenticator]:
    async with httpx.AsyncClient(transport=transport) as client:
        authenticator = create_authenticator(
            _settings(keycloak, okta), production=True, http_client=client
        )
        yield authenticator
        await authenticator.aclose()


def _okta_token(okta: TestIssuer) -> str:
    # Okta's shape: no typ header, cid, scp as a list (see test_provider_tokens.py).
    return okta.token(
        "00u1",
        header={"typ": None},
        client_id=None,
        azp=None,
        scope=None,
        cid="0oa1",
        scp=["todo:read"],
        realm_access=None,
    )


def _bearer(token: str) -> Any:
    return http_request(authorization=[f"Bearer {token}"])


async def test_each_issuer_is_verified_with_its_own_profile(
    authenticator: Authenticator, keycloak: TestIssuer, okta: TestIssuer
) -> None:
    await authenticator.start()
    alice = await authenticator.authenticate(_bearer(keycloak.token("alice")))
    assert alice.issuer == keycloak.issuer
    assert alice.roles == {"todo-user"}
    bob = await authenticator.authenticate(_bearer(_okta_token(okta)))
    assert (bob.issuer, bob.client_id, bob.scopes) == (
        okta.issuer,
        "0oa1",
        frozenset({"todo:read"}),
    )


async def test_the_other_issuers_profile_does_not_leak(
    authenticator: Authenticator, keycloak: TestIssuer
) -> None:
    # Okta's relaxed typ rules do not apply to the Keycloak issuer's tokens.
    await authenticator.start()
    token = keycloak.token("alice", header={"typ": None})
    with refused(Check.TYP, InvalidToken):
        await authenticator.authenticate(_bearer(token))


async def test_an_unknown_issuer_is_refused_without_any_network_call(
    authenticator: Authenticator, stranger: TestIssuer, transport: Issuers
) -> None:
    # Not started: nothing was fetched yet, and refusing the stranger fetches nothing.
    with refused(Check.ISS, InvalidToken):
        await authenticator.authenticate(_bearer(stranger.token("mallory")))
    assert transport.urls == []


async def test_a_token_claiming_one_issuer_signed_by_another_is_refused(
    authenticator: Authenticator, keycloak: TestIssuer, okta: TestIssuer, transport: Issuers
) -> None:
    await authenticator.start()
    forged = okta.token("mallory", iss=keycloak.issuer)
    with refused(Check.KID, InvalidToken):
        await authenticator.authenticate(_bearer(forged))
    # Only the claimed issuer's own documents were consulted for its keys.
    assert all(url.startswith((keycloak.issuer, okta.issuer)) for url in transport.urls)
    assert okta.jwks_uri in transport.urls  # its own start-up load, not a lookup for keycloak


async def test_one_unreachable_issuer_among_several_leaves_the_api_ready(
    authenticator: Authenticator, keycloak: TestIssuer, okta: TestIssuer
) -> None:
    """Readiness with several issuers: ready while any issuer's keys are in hand. Every
    instance waits on the same unreachable provider; not-ready would only refuse the
    other issuers' callers too. The status names the issuer without keys."""
    okta.available = False
    await authenticator.start()
    assert authenticator.is_ready()
    status = authenticator.status()
    assert status["issuers"][keycloak.issuer]["keys_loaded"] is True
    assert status["issuers"][okta.issuer]["keys_loaded"] is False
    assert status["issuers_without_keys"] == [okta.issuer]
    # The reachable issuer's callers are served meanwhile, the other's get 503.
    await authenticator.authenticate(_bearer(keycloak.token("alice")))
    with pytest.raises(ServiceUnavailable):
        await authenticator.authenticate(_bearer(okta.token("bob")))


async def test_no_issuer_with_keys_is_not_ready(
    authenticator: Authenticator, keycloak: TestIssuer, okta: TestIssuer
) -> None:
    keycloak.available = okta.available = False
    await authenticator.start()
    assert not authenticator.is_ready()
    assert set(authenticator.status()["issuers_without_keys"]) == {keycloak.issuer, okta.issuer}


async def test_any_one_of_several_audiences_is_enough(
    authenticator: Authenticator, okta: TestIssuer
) -> None:
    await authenticator.start()
    token = okta.token(
        "00u1", header={"typ": None}, aud="api://b", client_id=None, azp=None, cid="0oa1"
    )
    assert (await authenticator.authenticate(_bearer(token))).subject == "00u1"


def test_issuers_come_from_a_json_list_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from auth import AuthSettings

    monkeypatch.setenv(
        "OIDC_ISSUERS",
        '[{"issuer": "https://a.example", "audience": "api", "provider": "entra"}]',
    )
    (trusted,) = AuthSettings().trusted_issuers()
    assert (trusted.issuer, trusted.audiences, trusted.provider) == (
        "https://a.example",
        ("api",),
        "entra",
    )
    assert trusted.discovery_uri == "https://a.example/.well-known/openid-configuration"


A = {"issuer": "https://a.example", "audience": "x"}


@pytest.mark.parametrize(
    "values",
    [
        {"issuers": json.dumps([A]), "issuer_uri": "https://b.example"},
        {"issuers": json.dumps([A, {**A, "audience": "y"}])},
        {"issuers": json.dumps([{**A, "jwks_uri": "https://e.example"}])},
        {"issuers": json.dumps([{**A, "audience": ""}])},
        {"issuers": json.dumps([{**A, "issuer": "ftp://a.example"}])},
        {"issuers": json.dumps([{**A, "provider": "nope"}])},
        {"issuers": "not json"},
    ],
    ids=["both-forms", "duplicate", "unknown-key", "no-audience", "not-http", "provider", "json"],
)
def test_an_incoherent_issuer_list_stops_start_up(values: dict[str, str]) -> None:
    with pytest.raises((ValidationError, ValueError)):
        IsolatedSettings(**values)


async def test_an_unknown_issuers_token_is_judged_by_every_profiles_id_token_claims(
    authenticator: Authenticator, stranger: TestIssuer, transport: Issuers
) -> None:
    """Before the issuer is known, a token is refused for what it is by what any trusted
    issuer accepts: Okta's access tokens may carry auth_time beside cid, so such a token
    is refused for its issuer; one carrying nonce is an ID token under every profile."""
    okta_shaped: dict[str, Any] = {"header": {"typ": None}, "cid": "0oa1", "auth_time": 1}
    with refused(Check.ISS, InvalidToken):
        await authenticator.authenticate(_bearer(stranger.token("mallory", **okta_shaped)))
    with refused(Check.TYP, InvalidToken):
        token = stranger.token("mallory", nonce="n-0S6_WzA2Mj", **okta_shaped)
        await authenticator.authenticate(_bearer(token))
    assert transport.urls == []
