"""A user's login by authorization code with PKCE, scripted without a browser: the
authorization request and the token exchange are requests-oauth2client's, only the
login form in between is filled in here.

The browser tier logs in with Chromium; this tier has none, and Keycloak's login page is
one HTML form. Keycloak marks its session cookies ``Secure`` even over plain HTTP, which
an HTTP client will not send back to ``http://127.0.0.1``: they are passed by hand.
"""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
from requests_oauth2client import AuthorizationRequest, BearerToken, OAuth2Client

LOGIN_FORM_ID = "kc-form-login"


class _LoginForm(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == LOGIN_FORM_ID:
            self.action = attributes.get("action")


def _login_form_action(page: str) -> str:
    form = _LoginForm()
    form.feed(page)
    if form.action is None:
        raise AssertionError(f"no #{LOGIN_FORM_ID} in the authorization page:\n{page[:2000]}")
    return form.action


def authorization_redirect(request: AuthorizationRequest, username: str, password: str) -> str:
    """Where the identity provider redirects the browser once ``username`` has logged in
    (the redirect URI with the code, or with an error)."""
    page = httpx.get(str(request.uri), timeout=10)
    page.raise_for_status()
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in page.cookies.jar)
    answer = httpx.post(
        _login_form_action(page.text),
        data={"username": username, "password": password, "credentialId": ""},
        headers={"Cookie": cookies},
        timeout=10,
    )
    if answer.status_code != 302:
        raise AssertionError(f"the login did not redirect: {answer.status_code}\n{answer.text}")
    return answer.headers["location"]


def log_in(
    client: OAuth2Client,
    *,
    username: str,
    password: str,
    redirect_uri: str,
    scope: str = "openid",
    dpop: bool = False,
) -> BearerToken:
    """Tokens for ``username`` through ``client``: authorization request with PKCE (S256;
    with ``dpop``, the DPoP key's thumbprint as ``dpop_jkt`` too), login, exchange of the
    code (with a proof of that key when ``dpop``)."""
    request = client.authorization_request(scope=scope, redirect_uri=redirect_uri, dpop=dpop)
    response = request.validate_callback(authorization_redirect(request, username, password))
    # The ID token is checked too, except with DPoP: requests-oauth2client 1.8 cannot
    # rebuild a DPoPToken once its ID token is validated (a TypeError on `_dpop_key`).
    return client.authorization_code(response, validate=not dpop)
