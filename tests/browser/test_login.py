"""Logging in through Keycloak's real login page with oidc-spa: a DPoP-bound session."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.spa import Spa
from tests.services import KeycloakServer

pytestmark = pytest.mark.browser


def test_alice_logs_in_through_keycloak_and_the_api_sees_a_dpop_bound_token(
    spa_browser: Spa, keycloak: KeycloakServer
) -> None:
    tab = spa_browser.open("alice")
    page = tab.page
    expect(page.get_by_test_id("mode")).to_contain_text(keycloak.issuer())

    assert spa_browser.log_in(tab, "alice"), "Keycloak's login form was not shown"

    # The "who" box is GET /api/me: the API's view of the token it verified.
    expect(page.get_by_test_id("user-email")).to_have_text("alice@example.test")
    expect(page.get_by_test_id("user-client-id")).to_have_text("todo-spa")
    expect(page.get_by_test_id("user-issuer")).to_have_text(keycloak.issuer())
    expect(page.get_by_test_id("user-roles")).to_have_text("todo-user")
    expect(page.get_by_test_id("user-groups")).to_have_text("customers")
    expect(page.get_by_test_id("dpop-bound")).to_have_attribute("data-value", "true")
    expect(page.get_by_test_id("client-info")).to_have_attribute("data-dpop-bound", "true")
    expect(page.get_by_test_id("error")).to_have_count(0)


def test_admin_stats_answer_carol_and_refuse_bob_with_a_visible_403(spa_browser: Spa) -> None:
    carol = spa_browser.open("carol")
    spa_browser.log_in(carol, "carol")
    carol.page.get_by_test_id("admin-stats").click()
    expect(carol.page.get_by_test_id("admin-stats-result")).to_contain_text('"users"')

    bob = spa_browser.open("bob")
    spa_browser.log_in(bob, "bob")
    bob.page.get_by_test_id("admin-stats").click()
    error = bob.page.get_by_test_id("error").filter(has_text="/api/admin/stats")
    expect(error).to_have_attribute("data-status", "403")
    expect(error.get_by_test_id("error-code")).to_have_text("error: insufficient_scope")
    expect(bob.page.get_by_test_id("admin-stats-result")).to_have_text("(failed, see Errors)")
