"""The testing kit's pytest plugin (auth/pytest_plugin.py), used as a user's tests use
it: an issuer on loopback, tokens with any scopes, roles and claims, DPoP proofs, and a
client acting as a principal. (The wheel tier proves its entry point registers it.)"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import Depends, FastAPI, Security
from fastapi.testclient import TestClient

from auth import HttpRequest, Principal
from auth._lifecycle import running_authenticator
from auth._settings import AuthSettings
from auth.fastapi import OIDCAuth
from auth.pytest_plugin import ClientAs, MakeProof, MintHeaders, MintToken
from auth.testing import DpopKey, TestIssuer


def test_the_issuer_is_served_on_loopback(oidc_issuer: TestIssuer) -> None:
    assert oidc_issuer.issuer.startswith("http://127.0.0.1:")
    discovery = httpx.get(oidc_issuer.discovery_uri).json()
    assert discovery["issuer"] == oidc_issuer.issuer
    assert httpx.get(discovery["jwks_uri"]).json()["keys"]


async def test_tokens_carry_any_scopes_roles_and_claims(
    oidc_token: MintToken, oidc_settings: AuthSettings
) -> None:
    token = oidc_token(
        "bob", scopes=["items:read", "items:write"], roles=["auditor"], claims={"tenant": "t1"}
    )
    async with running_authenticator(oidc_settings, production=True) as authenticator:
        principal = await authenticator.authenticate_token(token)
    assert principal.subject == "bob"
    assert principal.scopes == {"items:read", "items:write"}
    assert principal.roles == {"auditor"}
    assert principal.claims["tenant"] == "t1"


async def test_a_dpop_bound_token_and_its_proof_are_accepted(
    oidc_token: MintToken,
    oidc_dpop_key: DpopKey,
    oidc_dpop_proof: MakeProof,
    oidc_settings: AuthSettings,
) -> None:
    token = oidc_token(dpop_key=oidc_dpop_key)
    url = "https://api.example/items"
    request = HttpRequest(
        method="POST",
        scheme="https",
        path="/items",
        headers=[
            ("host", "api.example"),
            ("authorization", f"DPoP {token}"),
            ("dpop", oidc_dpop_proof("POST", url, access_token=token)),
        ],
    )
    async with running_authenticator(oidc_settings, production=True) as authenticator:
        principal = await authenticator.authenticate(request)
    assert principal.dpop_jkt == oidc_dpop_key.jkt


def _items_app() -> tuple[FastAPI, OIDCAuth]:
    auth = OIDCAuth()
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/items")
    async def items(principal: Principal = Security(auth, scopes=["items:read"])) -> list[str]:  # noqa: B008
        return [principal.subject]

    @app.get("/admin")
    async def admin(principal: Principal = Depends(auth.require_roles("admin"))) -> str:  # noqa: B008
        return principal.subject

    return app, auth


def test_headers_authenticate_against_the_served_issuer(
    oidc_issuer: TestIssuer, oidc_headers: MintHeaders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OIDC_ISSUER_URI", oidc_issuer.issuer)
    monkeypatch.setenv("OIDC_AUDIENCE", oidc_issuer.audience)
    app, _ = _items_app()
    with TestClient(app) as client:
        allowed = client.get("/items", headers=oidc_headers("carol", scopes=["items:read"]))
        assert allowed.json() == ["carol"]
        assert client.get("/items", headers=oidc_headers("carol")).status_code == 403
        assert client.get("/admin", headers=oidc_headers(roles=["admin"])).status_code == 200


def test_a_client_acts_as_a_principal_without_any_issuer(oidc_client_as: ClientAs) -> None:
    app, auth = _items_app()
    with oidc_client_as(app, auth, subject="dave", roles=["admin"]) as client:
        assert client.get("/admin").json() == "dave"
        assert client.get("/items").status_code == 403  # no items:read: a real 403
    with oidc_client_as(app, auth, scopes=["items:read"]) as client:
        assert client.get("/items").json() == ["test-user"]


class TestTokenEndpoint:
    """``/token`` of the served issuer: scopes, roles, claims and a DPoP binding."""

    def _mint(self, issuer: TestIssuer, method: str = "GET", **parameters: str) -> str:
        url = f"{issuer.issuer}/token"
        response = (
            httpx.post(url, data=parameters)
            if method == "POST"
            else httpx.get(url, params=parameters)
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        token: str = response.json()["access_token"]
        return token

    async def test_scopes_roles_and_claims_are_minted(
        self, oidc_issuer: TestIssuer, oidc_settings: AuthSettings
    ) -> None:
        token = self._mint(
            oidc_issuer,
            sub="erin",
            scope="items:read items:write",
            roles="a,b",
            claims=json.dumps({"tenant": "t2", "email": None}),
        )
        async with running_authenticator(oidc_settings, production=True) as authenticator:
            principal = await authenticator.authenticate_token(token)
        assert (principal.subject, principal.scopes) == (
            "erin",
            frozenset({"items:read", "items:write"}),
        )
        assert principal.roles == {"a", "b"}
        assert principal.claims["tenant"] == "t2"
        assert "email" not in principal.claims  # null removes a claim

    async def test_a_form_post_and_a_dpop_binding(
        self, oidc_issuer: TestIssuer, oidc_settings: AuthSettings, oidc_dpop_key: DpopKey
    ) -> None:
        token = self._mint(oidc_issuer, "POST", scope="items:read", jkt=oidc_dpop_key.jkt)
        async with running_authenticator(oidc_settings, production=True) as authenticator:
            principal = await authenticator.authenticate_token(token)
        assert principal.dpop_jkt == oidc_dpop_key.jkt
        assert principal.scopes == {"items:read"}

    @pytest.mark.parametrize("claims", ["not json", "[1, 2]"])
    def test_claims_that_are_not_an_object_are_refused(
        self, oidc_issuer: TestIssuer, claims: str
    ) -> None:
        response = httpx.get(f"{oidc_issuer.issuer}/token", params={"claims": claims})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
