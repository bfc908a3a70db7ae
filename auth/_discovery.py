"""OpenID Provider metadata (OpenID Connect Discovery 1.0 §4; RFC 8414 §3).

Only what a resource server needs is kept: the issuer, which must equal the configured
one exactly (Discovery §4.3), and the ``jwks_uri``.

Every failure says what kind it is (``Problem``): an identity provider that is down
(no connection, a timeout, a 5xx) is waited out; one that answers with something that
can never work (a 404, another issuer, no keys) is a configuration to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from ._json_nesting import json_nesting_exceeds

#: Discovery documents and JWKS are a few KiB; anything larger is refused unread.
MAX_DOCUMENT_BYTES = 256 * 1024
#: Statuses that say "not now" rather than "not here" (RFC 9110 §15.5.9, RFC 6585 §4).
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


class Problem(StrEnum):
    """Why fetching an issuer's metadata or keys failed."""

    #: No answer: connection refused, DNS, TLS, a timeout. The provider may be down.
    UNREACHABLE = "unreachable"
    #: A 5xx, 408, 425 or 429: the provider is there but cannot answer now.
    SERVER_ERROR = "server_error"
    #: A 4xx or a redirect (never followed): nothing is at that URL, for good.
    NOT_FOUND = "not_found"
    #: Not a JSON object, or too large: a login page, another service.
    NOT_JSON = "not_json"
    #: The discovery document names another issuer (a trailing slash counts).
    ISSUER_MISMATCH = "issuer_mismatch"
    #: The discovery document has no acceptable ``jwks_uri``.
    NO_JWKS_URI = "no_jwks_uri"
    #: The JWKS has no key a token could be verified with.
    NO_USABLE_KEY = "no_usable_key"


class FetchError(Exception):
    """The issuer's metadata or keys could not be fetched or were not acceptable.

    ``problem`` says which way; ``document`` which of the two documents; ``url`` the URL
    asked for; ``status`` its HTTP status; ``found_issuer`` the issuer a discovery
    document named instead of the configured one.
    """

    def __init__(
        self,
        message: str,
        *,
        problem: Problem = Problem.UNREACHABLE,
        document: Literal["discovery", "jwks"] = "discovery",
        url: str | None = None,
        status: int | None = None,
        found_issuer: object = None,
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.document = document
        self.url = url
        self.status = status
        self.found_issuer = found_issuer

    @property
    def misconfigured(self) -> bool:
        """True when waiting cannot help: the answer is wrong, not missing."""
        return self.problem not in (Problem.UNREACHABLE, Problem.SERVER_ERROR)


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    issuer: str
    jwks_uri: str


async def fetch_json(
    client: httpx.AsyncClient, url: str, *, document: Literal["discovery", "jwks"] = "discovery"
) -> tuple[dict[str, Any], httpx.Headers]:
    """GET ``url`` and return its JSON object and response headers.

    Redirects are not followed and the body is read up to ``MAX_DOCUMENT_BYTES``.

    Raises:
        FetchError: transport failure, non-200 status, oversized or non-object body.
    """

    def failed(message: str, problem: Problem, status: int | None = None) -> FetchError:
        return FetchError(message, problem=problem, document=document, url=url, status=status)

    try:
        # Explicit, whatever the client's default: a redirect would let the answering
        # server choose where keys come from.
        async with client.stream(
            "GET", url, headers={"Accept": "application/json"}, follow_redirects=False
        ) as response:
            status = response.status_code
            if status != 200:
                transient = status >= 500 or status in _TRANSIENT_STATUSES
                problem = Problem.SERVER_ERROR if transient else Problem.NOT_FOUND
                raise failed(f"GET {url} answered {status}", problem, status)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise failed(
                        f"GET {url} returned more than {MAX_DOCUMENT_BYTES} bytes", Problem.NOT_JSON
                    )
            headers = response.headers
    except httpx.HTTPError as exc:
        raise failed(f"GET {url} failed: {exc.__class__.__name__}", Problem.UNREACHABLE) from exc
    if json_nesting_exceeds(body):
        raise failed(f"GET {url} returned JSON nested too deeply", Problem.NOT_JSON)
    try:
        parsed = json.loads(bytes(body))
    except ValueError as exc:
        raise failed(f"GET {url} did not return JSON", Problem.NOT_JSON) from exc
    if not isinstance(parsed, dict):
        raise failed(f"GET {url} did not return a JSON object", Problem.NOT_JSON)
    return parsed, headers


def _check_jwks_uri(jwks_uri: object, issuer: str, discovery_uri: str) -> str:
    def failed(message: str) -> FetchError:
        return FetchError(message, problem=Problem.NO_JWKS_URI, url=discovery_uri)

    if not isinstance(jwks_uri, str):
        raise failed("discovery document has no jwks_uri")
    parts = urlsplit(jwks_uri)
    # An https issuer must not send us to fetch keys over plain http (downgrade);
    # an http issuer is a local development setup and may use http for keys too.
    allowed = ("https",) if urlsplit(issuer).scheme == "https" else ("http", "https")
    if parts.scheme not in allowed or not parts.netloc:
        raise failed("jwks_uri is not an acceptable absolute URL")
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
            f"discovery issuer {issuer!r} does not equal the configured issuer {expected_issuer!r}",
            problem=Problem.ISSUER_MISMATCH,
            url=discovery_uri,
            found_issuer=issuer,
        )
    jwks_uri = _check_jwks_uri(document.get("jwks_uri"), expected_issuer, discovery_uri)
    return ProviderMetadata(issuer=expected_issuer, jwks_uri=jwks_uri)
