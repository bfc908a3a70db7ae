"""Loud when wrong, patient when the identity provider is down (auth._issuer_health).

A provider whose answer can never work (discovery 404, another issuer, a JWKS without a
usable key) stops start-up by default in production, with one sentence naming the
setting and the fix; ``OIDC_IF_MISCONFIGURED=retry`` keeps retrying. A provider that
does not answer (refused, timeout, 5xx) is always waited for. Readiness and the 503 say
which case it is.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from auth import AuthSettings, ConfigurationError, create_authenticator
from auth._errors import Check, ServiceUnavailable
from auth._verifier import Authenticator, TokenVerifier
from auth.testing import TestIssuer
from tests.auth.fakes import IsolatedSettings, http_request, settings_for
from tests.auth.refusals import refused

Handler = Callable[[httpx.Request], httpx.Response]


class Provider(httpx.MockTransport):
    """The test issuer, with its answers replaceable by URL (or for every URL)."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer
        self.answers: dict[str, Handler] = {}
        self.everything: Handler | None = None
        super().__init__(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.everything is not None:
            return self.everything(request)
        answer = self.answers.get(str(request.url))
        return answer(request) if answer else self.issuer.handle(request)

    def discovery(self, **changes: Any) -> None:
        document = self.issuer.discovery_document() | changes
        self.answers[self.issuer.discovery_uri] = lambda _: httpx.Response(200, json=document)

    def jwks(self, keys: list[dict[str, Any]]) -> None:
        self.answers[self.issuer.jwks_uri] = lambda _: httpx.Response(200, json={"keys": keys})


@pytest.fixture
def provider(issuer: TestIssuer) -> Provider:
    return Provider(issuer)


@pytest.fixture
async def client(provider: Provider) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=provider) as http:
        yield http


def _maintainers() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "jwks-maintainer" and not t.done()]


async def _start(settings: AuthSettings, client: httpx.AsyncClient, **kwargs: Any) -> Any:
    authenticator = create_authenticator(settings, http_client=client, **kwargs)
    await authenticator.start()
    return authenticator


async def _refresh(authenticator: Authenticator) -> None:
    assert isinstance(authenticator, TokenVerifier)
    for issuer in authenticator._issuers.values():
        await issuer.keys.refresh()


def _bearer(issuer: TestIssuer) -> Any:
    return http_request(authorization=[f"Bearer {issuer.token()}"])


# -- a configuration that can never work stops start-up in production ---------------------


async def test_a_discovery_404_stops_start_up_naming_the_setting(
    issuer: TestIssuer, client: httpx.AsyncClient
) -> None:
    settings = settings_for(issuer, issuer_uri="https://issuer.test/realms/typo")
    with pytest.raises(ConfigurationError) as refusal:
        await _start(settings, client, production=True)
    message = str(refusal.value)
    assert message.startswith(
        "OIDC_ISSUER_URI: GET https://issuer.test/realms/typo/.well-known/openid-configuration"
        " answered 404, so https://issuer.test/realms/typo is not an OpenID provider's issuer"
    )
    assert "OIDC_IF_MISCONFIGURED=retry" in message
    assert "\n" not in message
    assert not _maintainers()  # nothing left running behind the refusal


async def test_a_trailing_slash_mismatch_names_the_exact_issuer_to_set(
    issuer: TestIssuer, provider: Provider, client: httpx.AsyncClient
) -> None:
    # The classic Auth0 trap: its issuer ends with a slash, the configured one does not.
    provider.discovery(issuer=issuer.issuer + "/")
    with pytest.raises(ConfigurationError) as refusal:
        await _start(settings_for(issuer), client, production=True)
    assert str(refusal.value).startswith(
        f"OIDC_ISSUER_URI is {issuer.issuer}, but the provider's discovery document names the "
        f"issuer {issuer.issuer}/ (they differ by a trailing slash, which counts): set "
        f"OIDC_ISSUER_URI to {issuer.issuer}/ exactly"
    )


async def test_a_discovery_uri_that_answers_404_names_that_setting(
    issuer: TestIssuer, client: httpx.AsyncClient
) -> None:
    settings = settings_for(issuer, discovery_uri=issuer.issuer + "/.well-known/oops")
    with pytest.raises(ConfigurationError, match=r"^OIDC_DISCOVERY_URI: GET .* answered 404"):
        await _start(settings, client, production=True)


async def test_a_jwks_that_answers_404_is_a_misconfiguration(
    issuer: TestIssuer, provider: Provider, client: httpx.AsyncClient
) -> None:
    provider.answers[issuer.jwks_uri] = lambda _: httpx.Response(404)
    with pytest.raises(ConfigurationError, match=r"the JWKS .* answered 404"):
        await _start(settings_for(issuer), client, production=True)


async def test_a_login_page_instead_of_discovery_is_a_misconfiguration(
    issuer: TestIssuer, provider: Provider, client: httpx.AsyncClient
) -> None:
    provider.answers[issuer.discovery_uri] = lambda _: httpx.Response(200, text="<html>")
    with pytest.raises(ConfigurationError, match=r"did not return JSON.*a login page"):
        await _start(settings_for(issuer), client, production=True)


async def test_a_jwks_without_a_usable_key_stops_start_up(
    issuer: TestIssuer, provider: Provider, client: httpx.AsyncClient
) -> None:
    rsa = next(key for key in issuer.jwks()["keys"] if key["kty"] == "RSA")
    provider.jwks([{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}, rsa | {"use": "enc"}])
    with pytest.raises(ConfigurationError) as refusal:
        await _start(settings_for(issuer), client, production=True)
    message = str(refusal.value)
    assert "has no usable signing key (hmac: symmetric key; " in message
    assert "must publish an asymmetric signing key" in message


async def test_keys_that_fit_no_accepted_algorithm_name_oidc_algorithms(
    issuer: TestIssuer, client: httpx.AsyncClient
) -> None:
    settings = settings_for(issuer, algorithms="ES384 PS512")
    with pytest.raises(ConfigurationError) as refusal:
        await _start(settings, client, production=True)
    assert "has keys for ES256 RS256 only, and OIDC_ALGORITHMS allows ES384 PS512" in str(
        refusal.value
    )
    assert "add one of the key's algorithms to OIDC_ALGORITHMS" in str(refusal.value)


async def test_several_issuers_name_the_entry_at_fault(
    issuer: TestIssuer, provider: Provider, client: httpx.AsyncClient
) -> None:
    provider.discovery(issuer="https://elsewhere.example")
    entries = [{"issuer": issuer.issuer, "audience": issuer.audience}]
    settings = IsolatedSettings(issuers=json.dumps(entries))
    with pytest.raises(ConfigurationError) as refusal:
        await _start(settings, client, production=True)
    assert str(refusal.value).startswith(
        f"the OIDC_ISSUERS entry of {issuer.issuer} names {issuer.issuer}, but the provider's "
        "discovery document names the issuer https://elsewhere.example: set that entry's issuer"
    )


# -- an identity provider that is down is waited for, even in production -----------------


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


@pytest.mark.parametrize(
    "answer",
    [
        _refused,
        _timeout,
        lambda _: httpx.Response(503),
        lambda _: httpx.Response(502),
        lambda _: httpx.Response(429),
    ],
    ids=["refused", "timeout", "503", "502", "429"],
)
async def test_an_identity_provider_that_is_down_is_waited_for(
    issuer: TestIssuer, provider: Provider, client: httpx.AsyncClient, answer: Handler
) -> None:
    provider.everything = answer
    authenticator = await _start(settings_for(issuer), client, production=True)
    try:
        assert not authenticator.is_ready()
        status = authenticator.status()
        assert status["state"] == "unavailable"
        assert "fix" not in status
        with refused(Check.KEYS_UNAVAILABLE, ServiceUnavailable):
            await authenticator.authenticate(_bearer(issuer))
        provider.everything = None  # it is back
        await _refresh(authenticator)
        assert authenticator.is_ready()
        assert authenticator.status()["state"] == "ready"
        assert (await authenticator.authenticate(_bearer(issuer))).subject == "alice"
    finally:
        await authenticator.aclose()


# -- retrying instead: the service runs and says which case it is -------------------------


@pytest.mark.parametrize(
    ("production", "if_misconfigured"),
    [(True, "retry"), (False, None), (False, "retry")],
    ids=["production-retry", "development-default", "development-retry"],
)
async def test_with_retry_a_misconfiguration_is_reported_until_fixed(
    issuer: TestIssuer,
    provider: Provider,
    client: httpx.AsyncClient,
    production: bool,
    if_misconfigured: str | None,
) -> None:
    provider.discovery(issuer=issuer.issuer + "/")
    settings = settings_for(issuer, if_misconfigured=if_misconfigured)
    authenticator = await _start(settings, client, production=production)
    try:
        status = authenticator.status()
        assert (status["state"], status["keys_loaded"]) == ("misconfigured", False)
        assert status["fix"].startswith("OIDC_ISSUER_URI is ")
        with refused(Check.ISSUER_MISCONFIGURED, ServiceUnavailable) as refusal:
            await authenticator.authenticate(_bearer(issuer))
        assert "settings are wrong" in refusal.value.description
        assert issuer.issuer not in refusal.value.description  # the detail is for the log
        provider.answers.clear()  # the provider is fixed (a realm imported at last)
        await _refresh(authenticator)
        assert authenticator.status()["state"] == "ready"
        assert "fix" not in authenticator.status()
    finally:
        await authenticator.aclose()


async def test_stop_may_be_asked_for_outside_production(
    issuer: TestIssuer, client: httpx.AsyncClient
) -> None:
    settings = settings_for(issuer, issuer_uri=issuer.issuer + "x", if_misconfigured="stop")
    with pytest.raises(ConfigurationError, match="answered 404"):
        await _start(settings, client, production=False)


async def test_a_key_set_that_loses_every_usable_key_verifies_nothing_more(
    issuer: TestIssuer, provider: Provider, client: httpx.AsyncClient
) -> None:
    authenticator = await _start(settings_for(issuer), client, production=True)
    try:
        assert authenticator.is_ready()
        provider.jwks([])
        await _refresh(authenticator)
        # The keys it removed are not kept "in case": that would undo a revocation.
        assert authenticator.status()["state"] == "misconfigured"
        with refused(Check.ISSUER_MISCONFIGURED, ServiceUnavailable):
            await authenticator.authenticate(_bearer(issuer))
    finally:
        await authenticator.aclose()


async def test_several_issuers_report_the_worst_state_and_each_its_own(
    issuer: TestIssuer, issuer_template: TestIssuer, provider: Provider, client: httpx.AsyncClient
) -> None:
    entries = [
        {"issuer": issuer.issuer, "audience": issuer.audience},
        {"issuer": "https://down.example", "audience": "x"},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.example":
            raise httpx.ConnectError("refused", request=request)
        return issuer.handle(request)

    provider.everything = answer
    settings = IsolatedSettings(issuers=json.dumps(entries))
    authenticator = await _start(settings, client, production=True)
    try:
        status = authenticator.status()
        assert status["state"] == "unavailable"
        assert status["issuers"][issuer.issuer]["state"] == "ready"
        assert status["issuers"]["https://down.example"]["state"] == "unavailable"
    finally:
        await authenticator.aclose()
