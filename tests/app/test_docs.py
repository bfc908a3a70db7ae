"""/docs and /redoc served without the internet, and the login from /docs (app.docs)."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from pydantic import ValidationError

from app.settings import AppSettings
from auth.testing import TestIssuer
from tests.app.conftest import Api, app_settings, auth_settings, running_app

_URL = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


async def _assets_of(client: httpx.AsyncClient, page: str) -> list[str]:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return _URL.findall(response.text)


async def test_the_docs_pages_load_nothing_from_another_host(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        assets = await _assets_of(api.client, page)
        assert assets, page
        for url in assets:
            assert url.startswith("/static/docs/"), f"{page} loads {url}"
            fetched = await api.client.get(url)
            assert fetched.status_code == 200, url
            assert len(fetched.content) > 1000, url
        html = (await api.client.get(page)).text
        assert "cdn.jsdelivr" not in html
        assert "fonts.googleapis" not in html


async def test_the_oauth2_redirect_page_is_served(api: Api) -> None:
    response = await api.client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "oauth2" in response.text


async def test_without_a_swagger_client_there_is_no_login(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    assert "OIDC" not in spec["components"]["securitySchemes"]
    assert "initOAuth" not in (await api.client.get("/docs")).text


async def test_the_login_scheme_is_built_from_discovery(
    database_url: str, issuer: TestIssuer
) -> None:
    settings = app_settings(database_url, oidc_swagger_client_id="todo-swagger")
    async with running_app(settings, auth_settings(issuer)) as client:
        for _ in range(50):  # discovery runs beside start-up
            spec = (await client.get("/openapi.json")).json()
            if "OIDC" in spec["components"]["securitySchemes"]:
                break
            await asyncio.sleep(0.1)
        scheme = spec["components"]["securitySchemes"]["OIDC"]
        flow = scheme["flows"]["authorizationCode"]
        assert scheme["type"] == "oauth2"
        assert flow["authorizationUrl"] == f"{issuer.issuer}/auth"
        assert flow["tokenUrl"] == f"{issuer.issuer}/token"
        assert flow["scopes"] == {"openid": "openid"}
        security = spec["paths"]["/api/todos"]["get"]["security"]
        assert {"Bearer": []} in security
        assert {"OIDC": ["openid"]} in security
        docs = (await client.get("/docs")).text
        assert '"clientId": "todo-swagger"' in docs
        assert '"usePkceWithAuthorizationCodeGrant": true' in docs


async def test_the_login_passes_extra_authorization_parameters(
    database_url: str, issuer: TestIssuer
) -> None:
    # Auth0 issues a JWT for an API only when the authorization request names its
    # audience; RFC 8707 names the resource the same way.
    parameters = {"audience": "https://api.example", "resource": "https://api.example/"}
    settings = app_settings(
        database_url,
        oidc_swagger_client_id="todo-swagger",
        oidc_swagger_authorization_params=parameters,
    )
    async with running_app(settings, auth_settings(issuer)) as client:
        docs = (await client.get("/docs")).text
    options = json.loads(re.search(r"ui\.initOAuth\((\{.*?\})\)", docs, re.DOTALL).group(1))  # type: ignore[union-attr]
    assert options["additionalQueryStringParams"] == parameters
    assert options["clientId"] == "todo-swagger"


def test_the_extra_parameters_are_read_from_the_environment_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OIDC_SWAGGER_AUTHORIZATION_PARAMS", '{"audience": "https://api.example"}')
    assert AppSettings().oidc_swagger_authorization_params == {"audience": "https://api.example"}
    monkeypatch.setenv("OIDC_SWAGGER_AUTHORIZATION_PARAMS", '{"scope": "admin"}')
    with pytest.raises(ValidationError, match="sets scope itself"):
        AppSettings()


async def test_no_site_may_frame_the_documentation_pages(api: Api) -> None:
    for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = await api.client.get(page)
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'", page
        assert response.headers["x-frame-options"] == "DENY", page
