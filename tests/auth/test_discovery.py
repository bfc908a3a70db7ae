"""OpenID Provider metadata (auth.discovery), against pytest-httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pytest_httpx import HTTPXMock

from auth._discovery import (
    MAX_DOCUMENT_BYTES,
    FetchError,
    ProviderMetadata,
    fetch_json,
    fetch_provider_metadata,
)

ISSUER = "https://idp.example/realms/todo"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"
JWKS_URI = f"{ISSUER}/protocol/openid-connect/certs"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def test_metadata_is_read_from_the_discovery_document(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(
        url=DISCOVERY, json={"issuer": ISSUER, "jwks_uri": JWKS_URI, "extra": [1, 2]}
    )
    metadata = await fetch_provider_metadata(client, DISCOVERY, expected_issuer=ISSUER)
    assert metadata == ProviderMetadata(issuer=ISSUER, jwks_uri=JWKS_URI)
    assert httpx_mock.get_requests()[0].headers["accept"] == "application/json"


@pytest.mark.parametrize(
    "issuer",
    [f"{ISSUER}/", "https://IDP.example/realms/todo", "https://evil.example/realms/todo", None],
    ids=["trailing-slash", "other-case", "other-host", "missing"],
)
async def test_an_issuer_that_is_not_exactly_the_configured_one_is_refused(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient, issuer: str | None
) -> None:
    # OpenID Connect Discovery 1.0 §4.3: the issuer must be identical, not equivalent.
    httpx_mock.add_response(url=DISCOVERY, json={"issuer": issuer, "jwks_uri": JWKS_URI})
    with pytest.raises(FetchError, match="does not equal the configured issuer"):
        await fetch_provider_metadata(client, DISCOVERY, expected_issuer=ISSUER)


async def test_an_https_issuer_may_not_send_us_to_http_for_keys(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(
        url=DISCOVERY, json={"issuer": ISSUER, "jwks_uri": "http://idp.example/certs"}
    )
    with pytest.raises(FetchError, match="jwks_uri"):
        await fetch_provider_metadata(client, DISCOVERY, expected_issuer=ISSUER)


async def test_an_http_issuer_may_use_http_for_keys(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    issuer = "http://localhost:8081/realms/dev"
    discovery = f"{issuer}/.well-known/openid-configuration"
    httpx_mock.add_response(
        url=discovery, json={"issuer": issuer, "jwks_uri": "http://localhost:8081/certs"}
    )
    metadata = await fetch_provider_metadata(client, discovery, expected_issuer=issuer)
    assert metadata.jwks_uri == "http://localhost:8081/certs"


@pytest.mark.parametrize(
    "jwks_uri",
    [None, 42, "/relative/certs", "ftp://idp.example/certs", "https://"],
    ids=["missing", "not-a-string", "relative", "ftp", "no-host"],
)
async def test_an_unusable_jwks_uri_is_refused(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient, jwks_uri: object
) -> None:
    httpx_mock.add_response(url=DISCOVERY, json={"issuer": ISSUER, "jwks_uri": jwks_uri})
    with pytest.raises(FetchError, match="jwks_uri"):
        await fetch_provider_metadata(client, DISCOVERY, expected_issuer=ISSUER)


@pytest.mark.parametrize("status", [404, 500, 503, 204])
async def test_a_status_other_than_200_is_a_fetch_error(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient, status: int
) -> None:
    httpx_mock.add_response(url=JWKS_URI, status_code=status)
    with pytest.raises(FetchError, match=str(status)):
        await fetch_json(client, JWKS_URI)


async def test_redirects_are_not_followed_even_by_a_client_that_would(
    httpx_mock: HTTPXMock,
) -> None:
    # A redirect would let whoever controls the response pick where keys come from.
    # pytest-httpx fails the test if the redirect target is requested.
    httpx_mock.add_response(
        url=DISCOVERY, status_code=302, headers={"Location": "https://evil.example/x"}
    )
    async with httpx.AsyncClient(follow_redirects=True) as following:
        with pytest.raises(FetchError, match="302"):
            await fetch_json(following, DISCOVERY)


@pytest.mark.parametrize(
    "body",
    [b"<html>", b"[1, 2]", b'"keys"', b"[" * 100_000],
    ids=["not-json", "array", "string", "deeply-nested"],
)
async def test_a_body_that_is_not_a_json_object_is_a_fetch_error(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient, body: bytes
) -> None:
    httpx_mock.add_response(url=JWKS_URI, content=body)
    with pytest.raises(FetchError, match="JSON"):
        await fetch_json(client, JWKS_URI)


async def test_a_deeply_nested_document_is_refused_by_the_bound_not_the_parser(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient, parser_as_deep_as_python_313: None
) -> None:
    httpx_mock.add_response(url=JWKS_URI, content=b'{"keys": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    with pytest.raises(FetchError, match="nested too deeply"):
        await fetch_json(client, JWKS_URI)


async def test_an_oversized_body_is_refused(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(url=JWKS_URI, content=b" " * (MAX_DOCUMENT_BYTES + 1))
    with pytest.raises(FetchError, match="more than"):
        await fetch_json(client, JWKS_URI)


async def test_a_transport_failure_is_a_fetch_error(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=DISCOVERY)
    with pytest.raises(FetchError, match="ConnectError"):
        await fetch_provider_metadata(client, DISCOVERY, expected_issuer=ISSUER)


async def test_response_headers_are_returned_with_the_document(
    httpx_mock: HTTPXMock, client: httpx.AsyncClient
) -> None:
    httpx_mock.add_response(
        url=JWKS_URI, json={"keys": []}, headers={"Cache-Control": "max-age=120"}
    )
    document, headers = await fetch_json(client, JWKS_URI)
    assert document == {"keys": []}
    assert headers["cache-control"] == "max-age=120"
