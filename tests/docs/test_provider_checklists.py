"""The provider checklists (docs/providers/) hold together: each is linked, names only
real settings, and the settings it gives accept the token it says the provider issues,
with the admin role the API requires.

Auth0, Entra ID and Okta cannot run here, so their sample tokens (the providers'
documented shapes) are signed by a test issuer served under the provider's issuer URL;
the Keycloak checklist is also run for real by tests/e2e/test_keycloak_checklist.py.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from app.settings import AppSettings
from auth import AuthSettings, Principal, create_authenticator
from auth.testing import DpopKey, TestIssuer, sign_compact
from tests.auth.fakes import InitValuesOnly, IsolatedSettings, http_request
from tests.docs.checklists import (
    PROVIDERS,
    PROVIDERS_DIR,
    ROOT,
    api_settings,
    checklist_path,
    sample_token,
)
from tests.e2e.keycloak_checklist import PLACEHOLDER, checklist_steps


class IsolatedAppSettings(InitValuesOnly, AppSettings):
    """``AppSettings`` from keyword arguments only, never from the environment."""

    if TYPE_CHECKING:
        # Raw values for pydantic to validate, as ``IsolatedSettings`` takes them.
        def __init__(self, **values: Any) -> None: ...


def _split(settings: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The checklist's variables as ``AppSettings`` and ``AuthSettings`` field values."""
    app: dict[str, str] = {}
    auth: dict[str, str] = {}
    for name, value in settings.items():
        field = name.lower()
        if field in AppSettings.model_fields:
            app[field] = value
        elif name.startswith("OIDC_") and field[5:] in AuthSettings.model_fields:
            auth[field[5:]] = value
        else:
            raise AssertionError(f"{name} is not a setting of the application or of auth")
    return app, auth


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


def test_the_index_links_every_checklist_and_is_linked_from_both_readmes() -> None:
    index = (PROVIDERS_DIR / "README.md").read_text()
    for provider in PROVIDERS:
        assert f"]({provider}.md)" in index
    assert "](docs/providers/README.md)" in (ROOT / "README.md").read_text()
    assert "](../docs/providers/README.md)" in (ROOT / "auth" / "README.md").read_text()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_checklist_gives_only_real_settings_with_valid_values(provider: str) -> None:
    settings = api_settings(checklist_path(provider))
    assert settings["OIDC_PROVIDER"] == provider
    assert settings["APP_ENV"] == "production"
    app, auth = _split(settings)
    IsolatedAppSettings(**app)
    IsolatedSettings(**auth)


def _fresh_times(payload: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    times = {"iat": now - 10, "exp": now + 600}
    times |= {name: now - 60 for name in ("nbf", "auth_time") if name in payload}
    return payload | times


async def _authenticate(
    settings: dict[str, str],
    header: dict[str, Any],
    payload: dict[str, Any],
    issuer: TestIssuer,
) -> Principal:
    _, auth = _split(settings)
    discovery = auth["issuer_uri"].rstrip("/") + "/.well-known/openid-configuration"

    def handle(request: httpx.Request) -> httpx.Response:
        # The provider's discovery, served under its own issuer URL, names the test
        # issuer's keys.
        if str(request.url) == discovery:
            return httpx.Response(
                200, json={"issuer": auth["issuer_uri"], "jwks_uri": issuer.jwks_uri}
            )
        return issuer.handle(request)

    kid = issuer.current_kid["RS256"]
    url = f"{auth['public_url']}/api/me"
    dpop_key = DpopKey("ES256") if "cnf" in payload else None
    if dpop_key is not None:
        payload = payload | {"cnf": {"jkt": dpop_key.jkt}}
    token = sign_compact({**header, "kid": kid}, payload, issuer.keys[kid][1], "RS256")
    request = (
        http_request(
            url=url,
            authorization=[f"DPoP {token}"],
            proofs=[dpop_key.proof("GET", url, access_token=token)],
        )
        if dpop_key is not None
        else http_request(url=url, authorization=[f"Bearer {token}"])
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        authenticator = create_authenticator(
            IsolatedSettings(**auth), production=True, http_client=client
        )
        await authenticator.start()
        try:
            return await authenticator.authenticate(request)
        finally:
            await authenticator.aclose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_checklists_settings_accept_its_sample_token_with_the_admin_role(
    provider: str, issuer: TestIssuer
) -> None:
    path = checklist_path(provider)
    header, payload = sample_token(path)
    principal = await _authenticate(api_settings(path), header, _fresh_times(payload), issuer)
    assert AppSettings.model_fields["todo_admin_role"].default in principal.roles
    assert principal.subject == payload["sub"]
    assert principal.client_id
    assert principal.scopes
    assert principal.dpop_bound == ("cnf" in payload)


def test_the_keycloak_checklist_reads_as_admin_calls_in_order() -> None:
    """What tests/e2e/test_keycloak_checklist.py runs: every numbered step that changes
    the realm has calls whose bodies are JSON once the ids are filled in."""
    steps = checklist_steps()
    assert [step.title.split(".")[0] for step in steps] == ["1", "2", "3", "4", "5", "6", "7"]
    assert str(steps[0].calls[0]) == "POST /admin/realms"
    for step in steps:
        for call in step.calls:
            assert call.path.startswith("/admin/realms"), call
            if call.body:
                json.loads(PLACEHOLDER.sub("an-id", call.body))
            assert "<" not in PLACEHOLDER.sub("an-id", call.path), call
