"""The README's recipe "A new claim check", followed as written: a check function, a
``Step`` inserted in ``ACCESS_TOKEN_STEPS``, and nothing else. The production
authenticator then refuses a token with it, and the doctor reports it at its place."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from auth import _token_steps
from auth._diagnosis import Diagnosis
from auth._errors import Check, InvalidToken
from auth._factory import create_authenticator
from auth._steps import Outcome, Step
from auth._token_steps import TokenUnderCheck
from auth.testing import TestIssuer
from tests.auth.attacks import bearer_request
from tests.auth.fakes import IdpTransport, settings_for
from tests.auth.refusals import refused

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_CLIENTS = frozenset({"todo-spa"})


def check_allowed_client(claims: Mapping[str, Any], allowed: frozenset[str]) -> None:
    """The client the token was issued to (``client_id``, RFC 9068 §2.2) is one this API
    serves. (The recipe's example: a deployment that admits only its own clients.)"""
    if claims.get("client_id") not in allowed:
        raise InvalidToken("the token's client is not allowed here", check=Check.CLIENT_ID)


def _allowed_client(token: TokenUnderCheck) -> None:
    check_allowed_client(token.jws.payload, ALLOWED_CLIENTS)


def _with_the_new_step() -> tuple[Step[TokenUnderCheck], ...]:
    # "insert a Step at its place": after the required claims, before the binding.
    steps = list(_token_steps.ACCESS_TOKEN_STEPS)
    place = [step.name for step in steps].index("claims") + 1
    new = Step(
        "allowed_client",
        _allowed_client,
        lambda token: {"client_id": token.jws.payload.get("client_id")},
    )
    return (*steps[:place], new, *steps[place:])


async def test_a_check_added_as_the_readme_says_is_enforced_and_reported(
    monkeypatch: pytest.MonkeyPatch, issuer: TestIssuer
) -> None:
    monkeypatch.setattr(_token_steps, "ACCESS_TOKEN_STEPS", _with_the_new_step())
    settings = settings_for(issuer)
    # The production authenticator reads the real clock: tokens issued now.
    stranger = issuer.token(client_id="someone-else")
    friend = issuer.token()
    async with httpx.AsyncClient(transport=IdpTransport(issuer)) as client:
        # The authenticator the application runs, built as in production.
        authenticator = create_authenticator(settings, production=True, http_client=client)
        await authenticator.start()
        try:
            with refused(Check.CLIENT_ID, InvalidToken):
                await authenticator.authenticate(bearer_request(stranger))
            assert (await authenticator.authenticate(bearer_request(friend))).subject == "alice"
        finally:
            await authenticator.aclose()
        report = await Diagnosis(settings).run(stranger, client)
    findings = {finding.step: finding for finding in report.findings}
    steps = [finding.step for finding in report.findings]
    assert steps.index("allowed_client") == steps.index("claims") + 1
    assert findings["allowed_client"].outcome is Outcome.FAIL
    assert findings["allowed_client"].values == {"client_id": "someone-else"}
    assert report.decided_by is findings["allowed_client"]


@pytest.mark.parametrize("readme", ["README.md", "auth/README.md"])
def test_the_recipe_names_where_a_check_really_goes(readme: str) -> None:
    text = (ROOT / readme).read_text()
    recipe = text[text.index("A new claim check") :][:900]
    assert "ACCESS_TOKEN_STEPS" in recipe
    assert "auth/_token_steps.py" in recipe
    # Only tests call verify_access_token: a check added there would never run.
    assert "verify_access_token" not in recipe
