"""Building the authenticator OIDC_MODE asks for (auth.factory)."""

from __future__ import annotations

import re

import httpx
import pytest

from auth import create_authenticator
from auth._development import DecodeOnlyAuthenticator, StaticIdentityAuthenticator
from auth._errors import ConfigurationError
from auth._factory import check_settings
from auth._replay import MemoryReplayStore
from auth._settings import AuthSettings
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, TestIssuer
from tests.auth.fakes import API_URL, IsolatedSettings, http_request, settings_for


@pytest.mark.parametrize("mode", ["static", "decode_only"])
def test_development_modes_refuse_production(mode: str, http_client: httpx.AsyncClient) -> None:
    settings = IsolatedSettings(mode=mode)
    with pytest.raises(ConfigurationError, match=f"OIDC_MODE={mode} .* refused in production"):
        create_authenticator(settings, production=True, http_client=http_client)


@pytest.mark.parametrize("mode", ["static", "decode_only"])
def test_the_production_refusal_names_only_variables_the_library_reads(mode: str) -> None:
    # APP_ENV is the application's variable, not the library's.
    with pytest.raises(ConfigurationError) as refused:
        check_settings(IsolatedSettings(mode=mode), production=True)
    named = set(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", str(refused.value)))
    assert named <= {f"OIDC_{field.upper()}" for field in AuthSettings.model_fields}


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("static", StaticIdentityAuthenticator), ("decode_only", DecodeOnlyAuthenticator)],
)
def test_development_modes_outside_production(
    mode: str, kind: type, http_client: httpx.AsyncClient
) -> None:
    authenticator = create_authenticator(
        IsolatedSettings(mode=mode), production=False, http_client=http_client
    )
    assert isinstance(authenticator, kind)


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, "OIDC_ISSUER_URI and OIDC_AUDIENCE are not set"),
        ({"issuer_uri": "https://idp.example"}, "OIDC_AUDIENCE is not set"),
        ({"audience": "todo-api"}, "OIDC_ISSUER_URI is not set"),
    ],
    ids=["neither", "no-audience", "no-issuer"],
)
@pytest.mark.parametrize("production", [True, False])
def test_verify_mode_names_the_missing_issuer_or_audience(
    values: dict[str, str], missing: str, production: bool, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(ConfigurationError, match=f"^{missing}: ") as refused:
        create_authenticator(
            IsolatedSettings(**values), production=production, http_client=http_client
        )
    assert str(refused.value).count(" not set") == 1
    with pytest.raises(ConfigurationError):
        check_settings(IsolatedSettings(**values), production=production)


async def test_verify_mode_builds_a_verifier_on_the_given_client(
    issuer: TestIssuer, http_client: httpx.AsyncClient
) -> None:
    authenticator = create_authenticator(
        settings_for(issuer), production=True, http_client=http_client
    )
    assert isinstance(authenticator, TokenVerifier)
    await authenticator.start()
    try:
        assert authenticator.is_ready()
        assert issuer.jwks_requests == 1
        principal = await authenticator.authenticate(
            http_request(authorization=[f"Bearer {issuer.token()}"])
        )
        assert principal.subject == "alice"
    finally:
        await authenticator.aclose()


async def test_a_given_replay_store_is_the_one_used(
    issuer: TestIssuer, http_client: httpx.AsyncClient
) -> None:
    replay = MemoryReplayStore()
    authenticator = create_authenticator(
        settings_for(issuer), production=False, http_client=http_client, replay=replay
    )
    holder = DpopKey()
    token = issuer.token(dpop_key=holder)
    await authenticator.authenticate(
        http_request(
            authorization=[f"DPoP {token}"],
            proofs=[holder.proof("GET", API_URL, access_token=token)],
        )
    )
    assert len(replay) == 1
    await authenticator.aclose()
