"""OAuth 2.0 Protected Resource Metadata (RFC 9728).

The document tells a client which authorization servers issue tokens for this API and
how to present them (§2); it is served at ``/.well-known/oauth-protected-resource``,
inserted between the host and the path of the resource identifier (§3.1), and every
challenge points at it with ``resource_metadata`` (§5.1).

The resource identifier is ``OIDC_PUBLIC_URL`` when set; otherwise the origin the
request was addressed to (``auth._origin``: a trusted proxy's forwarded values, or the
``Host`` header, validated as ``host[:port]`` and nothing more). A document built from
request headers says so to caches (``metadata_cache_headers``): a shared cache that
kept the one built from someone's ``X-Forwarded-Host`` would serve it to everyone. The
metadata is
not signed (``signed_metadata``, §2.2, is not implemented): clients check ``resource``
against the URL they fetched, as §3.3 requires.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ._credentials import HttpRequest
from ._origin import InvalidOrigin, request_origin
from ._settings import AuthSettings

WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"
#: How long a client may keep the document: it changes only with the settings.
METADATA_MAX_AGE_SECONDS = 3600
# The request headers request_origin reads from a trusted proxy's requests.
_FORWARDED_HEADERS = ("Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto")


def metadata_cache_headers(settings: AuthSettings) -> dict[str, str]:
    """``Cache-Control`` for the document (and for the refusals of its route), and,
    when the resource comes from the request rather than ``OIDC_PUBLIC_URL``, ``Vary`` on
    every header it was built from and ``private``: no shared cache may serve one
    client's document to another."""
    if settings.public_url is not None:
        return {"Cache-Control": f"max-age={METADATA_MAX_AGE_SECONDS}"}
    varies = ("Host", *_FORWARDED_HEADERS) if settings.trusted_proxies else ("Host",)
    return {
        "Cache-Control": f"private, max-age={METADATA_MAX_AGE_SECONDS}",
        "Vary": ", ".join(varies),
    }


def resource_identifier(request: HttpRequest, settings: AuthSettings) -> str:
    """This API's resource identifier as seen by the client of ``request`` (§1.2).

    Raises:
        InvalidOrigin: no public URL is configured, and the request names no valid host.
    """
    if settings.public_url is not None:
        return settings.public_url.rstrip("/")
    origin = request_origin(
        scheme=request.scheme,
        headers=request.headers,
        peer=request.peer,
        trusted_proxies=settings.trusted_proxies,
    )
    if origin is None:
        raise InvalidOrigin("the request names no host")
    return str(origin)


def metadata_url(resource: str) -> str:
    """Where the metadata of ``resource`` is served: the well-known path goes between the
    host and the resource's path (§3.1)."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN_PATH}{parts.path.rstrip('/')}"


def configured_issuers(settings: AuthSettings) -> tuple[str, ...]:
    """The issuers whose tokens are accepted (``OIDC_ISSUERS`` or ``OIDC_ISSUER_URI``): the
    ``authorization_servers`` of §2."""
    return tuple(trusted.issuer for trusted in settings.trusted_issuers())


def protected_resource_metadata(
    settings: AuthSettings,
    *,
    resource: str,
    resource_name: str | None = None,
    resource_documentation: str | None = None,
) -> dict[str, Any]:
    """The metadata document of §2 for ``resource``, from the verifier's settings.

    Tokens are accepted in the ``Authorization`` header only (RFC 6750 §2.1; a token in
    the query or body is refused), hence ``bearer_methods_supported: ["header"]``.
    """
    document: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": list(configured_issuers(settings)),
        "scopes_supported": list(settings.scopes_supported),
        "bearer_methods_supported": ["header"],
        "dpop_signing_alg_values_supported": list(settings.algorithms),
    }
    if settings.dpop_required:
        document["dpop_bound_access_tokens_required"] = True
    name = settings.resource_name or resource_name
    if name:
        document["resource_name"] = name
    documentation = settings.resource_documentation or resource_documentation
    if documentation:
        # A path is taken relative to the resource, so one setting serves every host.
        document["resource_documentation"] = (
            resource + documentation if documentation.startswith("/") else documentation
        )
    return document
