"""OAuth 2.0 Protected Resource Metadata (auth.resource_metadata): RFC 9728 §2, §3, §5.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Security

from auth._principal import Principal
from auth._resource_metadata import metadata_url, protected_resource_metadata, resource_identifier
from auth._verifier import TokenVerifier
from auth.fastapi import OIDCAuth, install
from auth.testing import TestIssuer
from tests.auth.fakes import http_request, settings_for

# RFC 9728 §2: "resource" is the one REQUIRED member; these are the members this API
# promises, with the JSON type §2 gives each.
MEMBER_TYPES: dict[str, type] = {
    "resource": str,
    "authorization_servers": list,
    "scopes_supported": list,
    "bearer_methods_supported": list,
    "dpop_signing_alg_values_supported": list,
    "resource_name": str,
    "resource_documentation": str,
}
# §2: the values bearer_methods_supported may hold (RFC 6750 §2.1-2.3).
BEARER_METHODS = {"header", "body", "query"}


def assert_rfc9728_document(document: dict[str, Any], *, fetched_from: str) -> None:
    """Required members, their types, and §3.3: ``resource`` is the identifier the
    metadata URL was built from."""
    for member, kind in MEMBER_TYPES.items():
        assert isinstance(document.get(member), kind), member
    assert metadata_url(document["resource"]) == fetched_from
    assert set(document["bearer_methods_supported"]) <= BEARER_METHODS
    assert all(isinstance(server, str) for server in document["authorization_servers"])


def test_the_well_known_path_goes_between_host_and_path() -> None:
    assert metadata_url("https://api.example") == (
        "https://api.example/.well-known/oauth-protected-resource"
    )
    assert metadata_url("https://api.example/todo/") == (
        "https://api.example/.well-known/oauth-protected-resource/todo"
    )


def test_the_resource_is_the_public_url_when_configured(issuer: TestIssuer) -> None:
    settings = settings_for(issuer, public_url="https://public.example/todo/")
    assert resource_identifier(http_request(), settings) == "https://public.example/todo"


def test_the_resource_comes_from_a_trusted_proxy_only(issuer: TestIssuer) -> None:
    forwarded = [("x-forwarded-proto", "https"), ("x-forwarded-host", "edge.example")]
    request = http_request(url="http://10.0.0.5:8000/api/me", headers=forwarded, peer="10.0.0.1")
    untrusted = settings_for(issuer)
    trusted = settings_for(issuer, trusted_proxies="10.0.0.0/8")
    assert resource_identifier(request, untrusted) == "http://10.0.0.5:8000"
    assert resource_identifier(request, trusted) == "https://edge.example"


@pytest.mark.parametrize("host", ['a.example"x', "a b", "user@a.example", "a.example/x?"])
def test_a_host_that_is_not_a_host_gives_no_resource(issuer: TestIssuer, host: str) -> None:
    request = http_request(headers=[("host", host)])
    with pytest.raises(ValueError, match="authority"):
        resource_identifier(request, settings_for(issuer))


def test_the_document_follows_the_settings(issuer: TestIssuer) -> None:
    settings = settings_for(
        issuer,
        algorithms="ES256 EdDSA",
        scopes_supported="openid todo",
        dpop_required=True,
        resource_documentation="/docs",
    )
    document = protected_resource_metadata(
        settings, resource="https://api.example", resource_name="TODO API"
    )
    assert document == {
        "resource": "https://api.example",
        "authorization_servers": [issuer.issuer],
        "scopes_supported": ["openid", "todo"],
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
        "dpop_bound_access_tokens_required": True,
        "resource_name": "TODO API",
        "resource_documentation": "https://api.example/docs",
    }


def test_dpop_is_not_said_to_be_required_unless_it_is(issuer: TestIssuer) -> None:
    document = protected_resource_metadata(settings_for(issuer), resource="https://api.example")
    assert "dpop_bound_access_tokens_required" not in document


def build_app(verifier: TokenVerifier, *, serve: bool = True) -> FastAPI:
    auth = OIDCAuth()
    app = FastAPI(title="Example API")
    auth.use(app, verifier)
    install(app, auth)
    if serve:
        auth.serve_resource_metadata(app)

    @app.get("/things")
    async def things(principal: Principal = Security(auth)) -> dict[str, str]:  # noqa: B008
        return {"sub": principal.subject}

    return app


@pytest.fixture
async def client(
    make_verifier: Callable[..., TokenVerifier],
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(make_verifier(resource_documentation="/docs")))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as http:
        yield http


async def test_a_401_points_at_a_document_that_names_this_resource(
    client: httpx.AsyncClient, issuer: TestIssuer
) -> None:
    refused = await client.get("/things")
    url = 'resource_metadata="https://api.example/.well-known/oauth-protected-resource"'
    challenges = refused.headers.get_list("www-authenticate")
    assert len(challenges) == 2
    assert all(url in challenge for challenge in challenges)

    fetched_from = url.split('"')[1]
    response = await client.get(fetched_from)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert_rfc9728_document(document, fetched_from=fetched_from)
    assert document["authorization_servers"] == [issuer.issuer]
    assert document["resource_name"] == "Example API"
    assert document["resource_documentation"] == "https://api.example/docs"


async def test_the_document_of_another_path_is_not_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-protected-resource/elsewhere")
    assert response.status_code == 404


async def test_no_document_no_pointer(verifier: TokenVerifier) -> None:
    transport = httpx.ASGITransport(app=build_app(verifier, serve=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as http:
        refused = await http.get("/things")
        assert refused.status_code == 401
        assert "resource_metadata" not in refused.headers["www-authenticate"]
        assert (await http.get("/.well-known/oauth-protected-resource")).status_code == 404


def test_several_issuers_are_all_authorization_servers(issuer: TestIssuer) -> None:
    issuers = (
        '[{"issuer": "https://a.example", "audience": "api"},'
        ' {"issuer": "https://b.example/realms/x", "audience": "api"}]'
    )
    document = protected_resource_metadata(
        settings_for(issuer, issuer_uri=None, audience=None, issuers=issuers),
        resource="https://api.example",
    )
    assert document["authorization_servers"] == ["https://a.example", "https://b.example/realms/x"]


async def _fetch(verifier: TokenVerifier, path: str = "", **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_app(verifier), client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as http:
        return await http.get("/.well-known/oauth-protected-resource" + path, headers=headers)


def _varies(response: httpx.Response) -> set[str]:
    return {name.strip().lower() for name in response.headers.get("vary", "").split(",") if name}


async def test_a_document_built_from_forwarded_headers_varies_on_them_and_is_private(
    make_verifier: Callable[..., TokenVerifier],
) -> None:
    # Built from a trusted proxy's X-Forwarded-Host: a shared cache keyed on the URL alone
    # would serve attacker.example's document to everyone for an hour.
    verifier = make_verifier(trusted_proxies="127.0.0.1/32")
    response = await _fetch(verifier, **{"X-Forwarded-Host": "attacker.example"})
    assert response.json()["resource"] == "https://attacker.example"
    assert _varies(response) >= {"host", "forwarded", "x-forwarded-host", "x-forwarded-proto"}
    assert "private" in response.headers["cache-control"]
    # The refusal of another path is built from the same headers.
    missing = await _fetch(verifier, "/elsewhere", **{"X-Forwarded-Host": "attacker.example"})
    assert missing.status_code == 404
    assert _varies(missing) >= {"x-forwarded-host"}
    assert "private" in missing.headers["cache-control"]


async def test_a_document_built_from_host_varies_on_host(
    make_verifier: Callable[..., TokenVerifier],
) -> None:
    response = await _fetch(make_verifier())
    assert _varies(response) == {"host"}
    assert "private" in response.headers["cache-control"]


async def test_a_document_built_from_the_public_url_is_shared(
    make_verifier: Callable[..., TokenVerifier],
) -> None:
    verifier = make_verifier(public_url="https://api.example", trusted_proxies="127.0.0.1/32")
    response = await _fetch(verifier, **{"X-Forwarded-Host": "attacker.example"})
    assert response.json()["resource"] == "https://api.example"
    assert "vary" not in response.headers
    assert response.headers["cache-control"] == "max-age=3600"
