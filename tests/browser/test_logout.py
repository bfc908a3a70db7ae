"""Logging out ends the session in the page and at Keycloak."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.proofs import check_dpop_request, jwt_parts
from tests.browser.spa import LOGIN_TIMEOUT_MS, Spa
from tests.services import ApiProcess

pytestmark = pytest.mark.browser

FETCH_ME = """async url => {
    const response = await fetch(url, { cache: "no-store" });
    return { status: response.status, challenge: response.headers.get("WWW-Authenticate") };
}"""

STORAGE = "() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie])"


def test_after_logout_the_api_refuses_the_page(spa_browser: Spa, api: ApiProcess) -> None:
    tab = spa_browser.open("alice")
    spa_browser.log_in(tab, "alice")
    page = tab.page
    captured = check_dpop_request(tab.api_requests[0])

    page.get_by_test_id("logout").click()  # Keycloak's end-session endpoint, then back
    expect(page.locator("body")).to_have_attribute(
        "data-state", "logged-out", timeout=LOGIN_TIMEOUT_MS
    )
    expect(page.get_by_test_id("login")).to_be_visible()

    # The page holds no token any more (not in its storage either), so a call it makes
    # carries none and is refused.
    storage = page.evaluate(STORAGE)
    assert captured not in storage
    refused = page.evaluate(FETCH_ME, f"{api.base_url}/api/me")
    assert refused["status"] == 401
    assert "DPoP" in refused["challenge"]
    assert "Bearer" in refused["challenge"]

    # A token captured before logout is still valid until it expires: the API validates
    # tokens offline (signature and claims, no introspection), the documented trade-off.
    # This one is DPoP-bound, though: without a proof from the browser's non-extractable
    # key it is worthless, whether presented as DPoP or downgraded to Bearer.
    assert jwt_parts(captured)[1]["exp"] > time.time() + 10  # refused, but not for expiry
    downgraded = httpx.get(
        f"{api.base_url}/api/me", headers={"Authorization": f"Bearer {captured}"}
    )
    assert downgraded.status_code == 401
    assert downgraded.json()["error"] == "invalid_token"
    unproven = httpx.get(f"{api.base_url}/api/me", headers={"Authorization": f"DPoP {captured}"})
    assert unproven.status_code == 400
    assert unproven.json()["error"] == "invalid_request"

    # Keycloak's session ended too: logging in again shows the form.
    page.get_by_test_id("login").click()
    expect(page.locator("#kc-form-login")).to_be_visible(timeout=LOGIN_TIMEOUT_MS)
