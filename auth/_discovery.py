"""OpenID Provider metadata (OpenID Connect Discovery 1.0 §4; RFC 8414 §3).

Only what a resource server needs is kept: the issuer, which must equal the configured
one exactly (Discovery §4.3), and the ``jwks_uri``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._json_nesting import json_nesting_exceeds

#: Discovery documents and JWKS are a few KiB; anything larger is refused unread.
MAX_DOCUMENT_BYTES = 256 * 1024


class FetchError(Exception):
    """The issuer's metadata or keys could not be fetched or were not acceptable."""


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    jwks_uri: str


async def fetch_json(client: httpx.AsyncClient, url: str) -> tuple[dict[str, Any], httpx.Headers]:
    """GET ``url`` and return its JSON object and response headers.

    Redirects are not followed and the body is read up to ``MAX_DOCUMENT_BYTES``.

    Raises:
        FetchError: transport failure, non-200 status, oversized or non-object body.
    """
    try:
        # Explicit, whatever the client's default: a redirect would let the answering
        # server choose where keys come from.
        async with client.stream(
            "GET", url, headers={"Accept": "application/json"}, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                raise FetchError(f"GET {url} answered {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchError(f"GET {url} returned more than {MAX_DOCUMENT_BYTES} bytes")
            headers = response.headers
    except httpx.HTTPError as exc:
        raise FetchError(f"GET {url} failed: {exc.__class__.__name__}") from exc
    if json_nesting_exceeds(body):
        raise FetchError(f"GET {url} returned JSON nested too deeply")
    try:
        document = json.loads(bytes(body))
    except ValueError as exc:
        raise FetchError(f"GET {url} did not return JSON") from exc
    if not isinstance(document, dict):
        raise FetchError(f"GET {url} did not return a JSON object")
    return document, headers


def _check_jwks_uri(jwks_uri: object, issuer: str) -> str:
    if not isinstance(jwks_uri, str):
        raise FetchError("discovery document has no jwks_uri")
    parts = urlsplit(jwks_uri)
    # An https issuer must not send us to fetch keys over plain http (downgrade);
    # an http issuer is a local development setup and may use http for keys too.
    allowed = ("https",) if urlsplit(issuer).scheme == "https" else ("http", "https")
    if parts.scheme not in allowed or not parts.netloc:
        raise FetchError("jwks_uri is not an acceptable absolute URL")
    return jwks_uri


async def fetch_provider_metadata(
    client: httpx.AsyncClient, discovery_uri: str, *, expected_issuer: str
) -> ProviderMetadata:
    """Fetch the discovery document and check its ``issuer`` (Discovery §4.3).

    Raises:
        FetchError: unreachable, malformed, or the issuer differs from ``expected_issuer``.
    """
    document, _ = await fetch_json(client, discovery_uri)
    issuer = document.get("issuer")
    if issuer != expected_issuer:
        raise FetchError(
            f"discovery issuer {issuer!r} does not equal the configured issuer {expected_issuer!r}"
        )
    return ProviderMetadata(
        issuer=expected_issuer, jwks_uri=_check_jwks_uri(document.get("jwks_uri"), expected_issuer)
    )
