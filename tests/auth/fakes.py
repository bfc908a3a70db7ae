"""Test doubles for the auth suite: a settable clock, an identity provider transport
that records every URL it is asked for, and settings that ignore the environment."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from auth._credentials import HttpRequest
from auth._settings import AuthSettings
from auth.testing import TestIssuer

#: A fixed "now" for every test (2025-06-15T15:06:40Z); tokens and proofs are minted
#: relative to it so no test depends on the wall clock.
T0 = 1_750_000_000.0
#: The protected resource most tests address.
API_URL = "https://api.example/todos"


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class IdpTransport(httpx.MockTransport):
    """Test issuers over ``httpx.MockTransport``, recording every requested URL.

    Any URL other than an issuer's discovery document and JWKS is a test failure:
    it would mean the verifier followed a URL it should never have fetched.
    """

    def __init__(self, issuer: TestIssuer, *others: TestIssuer) -> None:
        self.issuer = issuer
        self.issuers = (issuer, *others)
        self.urls: list[str] = []
        self.unexpected: list[str] = []
        super().__init__(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.urls.append(url)
        for issuer in self.issuers:
            if url in (issuer.discovery_uri, issuer.jwks_uri):
                return issuer.handle(request)
        self.unexpected.append(url)
        return httpx.Response(404)


class InitValuesOnly:
    """Settings read from their arguments alone: no environment, no ``.env``, no secrets
    directory. Listed first among a settings class's bases."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


class IsolatedSettings(InitValuesOnly, AuthSettings):
    """``AuthSettings`` built from keyword arguments only, never from ``OIDC_*`` env."""

    if TYPE_CHECKING:
        # Tests pass raw values (strings, as the environment would) for pydantic to
        # validate, often as ``**mapping``; the generated signature would check such a
        # mapping against BaseSettings' own ``_case_sensitive``-style parameters too.
        def __init__(self, **values: Any) -> None: ...


def settings_for(issuer: TestIssuer, **overrides: Any) -> AuthSettings:
    # A realm, so the challenges' rendering of it is exercised (the library sends none
    # unless configured).
    values: dict[str, Any] = {
        "issuer_uri": issuer.issuer,
        "audience": issuer.audience,
        "realm": "todo-api",
    }
    return IsolatedSettings(**(values | overrides))


def clone_issuer(template: TestIssuer) -> TestIssuer:
    """A fresh issuer sharing ``template``'s (slow to generate) keys, with its own key
    table, counters and availability, so tests can rotate keys or take it down."""
    issuer = copy.copy(template)
    issuer.keys = dict(template.keys)
    issuer.current_kid = dict(template.current_kid)
    issuer.jwks_requests = 0
    issuer.discovery_requests = 0
    issuer.available = True
    issuer.cache_control = template.cache_control
    return issuer


def http_request(
    *,
    method: str = "GET",
    url: str = API_URL,
    authorization: Iterable[str] = (),
    proofs: Iterable[str] = (),
    headers: Iterable[tuple[str, str]] = (),
    query: str = "",
    peer: str | None = "203.0.113.7",
) -> HttpRequest:
    """An ``HttpRequest`` as a framework adapter would build it for a request the server
    received for ``url`` (its authority in ``Host``, unless ``headers`` has one)."""
    parts = urlsplit(url)
    extra = list(headers)
    all_headers = [] if any(name == "host" for name, _ in extra) else [("host", parts.netloc)]
    all_headers += [("authorization", value) for value in authorization]
    all_headers += [("dpop", value) for value in proofs]
    all_headers += extra
    return HttpRequest(
        method=method,
        scheme=parts.scheme,
        path=parts.path,
        headers=all_headers,
        query=query or parts.query,
        peer=peer,
    )
