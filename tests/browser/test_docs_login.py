"""Logging in from the API's /docs (Swagger UI, authorization code + PKCE) at the real
Keycloak, then calling the API from the page: app.docs with the realm's todo-swagger."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.spa import LOGIN_TIMEOUT_MS, PASSWORDS, STEP_TIMEOUT_MS
from tests.services import ApiProcess, KeycloakServer

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def web_origin_allowed(keycloak: KeycloakServer, origin: str) -> Iterator[None]:
    """The API's origin added to todo-swagger's web origins (the realm lists the
    documented http://127.0.0.1:8000; this API listens on a free port). Redirect URIs
    need nothing: loopback ones without a port accept any port (RFC 8252 §7.3)."""
    with keycloak.admin() as admin:
        [client] = admin.get("/todo/clients", params={"clientId": "todo-swagger"}).json()
        original = list(client["webOrigins"])
        client["webOrigins"] = [*original, origin]
        admin.put(f"/todo/clients/{client['id']}", json=client).raise_for_status()
        try:
            yield
        finally:
            client["webOrigins"] = original
            admin.put(f"/todo/clients/{client['id']}", json=client).raise_for_status()


def _offline(page: Page, api_url: str, keycloak_url: str) -> list[str]:
    """Refuse every request to a host other than the API and Keycloak: /docs must not
    need the internet. Returns the refused URLs."""
    refused: list[str] = []

    def route(request: Route) -> None:
        url = request.request.url
        if url.startswith((api_url, keycloak_url)):
            request.continue_()
        else:
            refused.append(url)
            request.abort()

    page.context.route("**/*", route)
    return refused


def test_alice_logs_in_from_docs_and_calls_the_api(
    browser: Browser, api: ApiProcess, keycloak: KeycloakServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.set_default_navigation_timeout(LOGIN_TIMEOUT_MS)
    page = context.new_page()
    refused = _offline(page, api.base_url, keycloak.url)
    try:
        with web_origin_allowed(keycloak, api.base_url):
            page.goto(f"{api.base_url}/docs")
            page.locator(".auth-wrapper .btn.authorize").click()
            oidc = page.locator(".auth-container").filter(has_text="authorizationCode")
            expect(oidc.locator("#client_id_authorizationCode")).to_have_value("todo-swagger")
            expect(oidc).to_contain_text("authorizationCode with PKCE")
            with page.expect_popup() as popup_info:
                oidc.get_by_role("button", name="Apply given OAuth2 credentials").click()
            login = popup_info.value
            login.locator("#username").fill("alice", timeout=LOGIN_TIMEOUT_MS)
            login.locator("#password").fill(PASSWORDS["alice"])
            login.locator("#kc-login").click()
            # The popup lands on /docs/oauth2-redirect, hands the code back and closes;
            # Swagger UI then redeems it (with the PKCE verifier) at the token endpoint.
            expect(oidc.get_by_role("button", name="Remove authorization")).to_be_visible(
                timeout=LOGIN_TIMEOUT_MS
            )
            page.locator(".modal-ux .btn-done").first.click()

            operation = page.locator(".opblock").filter(
                has=page.locator('.opblock-summary-path[data-path="/api/me"]')
            )
            operation.locator(".opblock-summary").click()
            operation.locator(".try-out__btn").click()
            with page.expect_response(f"{api.base_url}/api/me") as answered:
                operation.locator(".execute").click()
            response = answered.value
            assert response.status == 200
            me = response.json()
            assert (me["username"], me["client_id"], me["dpop_bound"]) == (
                "alice",
                "todo-swagger",
                False,
            )
            sent = response.request.headers["authorization"]
            assert re.fullmatch(r"Bearer [\w-]+\.[\w-]+\.[\w-]+", sent)
            # What the developer sees: the live response, status and body.
            shown = operation.locator(".live-responses-table")
            expect(shown.get_by_role("cell", name="200", exact=True)).to_be_visible()
            body = shown.locator(".response-col_description .microlight").first.inner_text()
            assert json.loads(body)["username"] == "alice"
    finally:
        context.close()
    assert refused == []
