"""Building the authenticator OIDC_MODE asks for (auth.factory)."""

from __future__ import annotations

import httpx
import pytest

from auth import create_authenticator
from auth._development import DecodeOnlyAuthenticator, StaticIdentityAuthenticator
from auth._errors import ConfigurationError
from auth._factory import check_settings
from auth._replay import MemoryReplayStore
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, TestIssuer
from tests.auth.fakes import API_URL, IsolatedSettings, http_request, settings_for


@pytest.mark.parametrize("mode", ["static", "decode_only"])
def test_development_modes_refuse_production(mode: str, http_client: httpx.AsyncClient) -> None:
    settings = IsolatedSettings(mode=mode)
    with pytest.raises(ConfigurationError, match="APP_ENV=production"):
        create_authenticator(settings, production=True, http_client=http_client)


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
    "values",
    [{}, {"issuer_uri": "https://idp.example"}, {"audience": "todo-api"}],
    ids=["neither", "no-audience", "no-issuer"],
)
@pytest.mark.parametrize("production", [True, False])
def test_verify_mode_needs_an_issuer_and_an_audience(
    values: dict[str, str], production: bool, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(ConfigurationError, match="OIDC_ISSUER_URI and OIDC_AUDIENCE"):
        create_authenticator(
            IsolatedSettings(**values), production=production, http_client=http_client
        )
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
