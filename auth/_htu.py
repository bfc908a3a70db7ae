"""The request URL a DPoP proof's ``htu`` must match (RFC 9449 §4.3 step 9).

Both sides are compared after RFC 3986 §6.2.2 syntax-based and §6.2.3 scheme-based
normalisation, with query and fragment removed. Written by hand: the one maintained
Python package for RFC 3986 normalisation (``rfc3986``) has had no release since 2022,
and the rules needed here fit in a page.

The expected URL is the request's origin (the configured public URL of the API, else
the validated ``Host`` or a trusted proxy's forwarded values: ``auth._origin``) followed
by the request's own path, as the server parsed it from the request line. No part of
the path ever comes from a header.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from ._origin import InvalidOrigin, IpNetwork, Origin, parse_origin, request_origin

_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 §3.3: what a path may hold besides unreserved characters and escapes.
_PATH_SAFE = "/%!$&'()*+,;=:@"
# RFC 3986 §2: a URI is printable ASCII without spaces. urlsplit would silently drop
# tabs and newlines instead of refusing them.
_URI = re.compile(r"[\x21-\x7e]+")


def _normalise_percent(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4.
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if path.endswith(("/.", "/..")):
        output.append("")
    return "/".join(output)


def normalise_path(path: str) -> str:
    """A path with escapes normalised (§6.2.2.1-2), characters a path cannot hold
    escaped, and dot segments removed (§6.2.2.3). A path given as the server received
    it (latin-1 decoded bytes) is escaped back to those same bytes."""
    escaped = quote(_PERCENT.sub(_normalise_percent, path), safe=_PATH_SAFE, encoding="latin-1")
    return _remove_dot_segments(escaped) or "/"


@functools.lru_cache(maxsize=4096)
def normalise_url(url: str) -> str:
    """Normalise an absolute http(s) URL and drop its query and fragment.

    Cached: a server sees the same few URLs, and proofs name them again and again; the
    cache is bounded, so URLs an attacker makes up only evict each other.

    Raises:
        ValueError: not an absolute http(s) URL of printable ASCII whose authority is
            ``host[:port]`` (no userinfo).
    """
    if not _URI.fullmatch(url):
        raise ValueError("not a URI")
    parts = urlsplit(url)
    origin = parse_origin(parts.scheme, parts.netloc)
    return f"{origin}{normalise_path(parts.path)}"


def expected_htu(
    *,
    scheme: str,
    path: str,
    headers: Sequence[tuple[str, str]],
    peer: str | None,
    public_url: str | None,
    trusted_proxies: Sequence[IpNetwork],
) -> str:
    """The normalised URL this request was addressed to, for comparison with ``htu``.

    ``scheme`` and ``path`` are the request's as the server received it (``path``
    without the query); ``headers`` are (lower-case name, value) pairs; ``peer`` is the
    direct client address.

    Raises:
        InvalidOrigin: the Host or a trusted proxy's forwarded values are not valid, or
            the request names no host and no public URL is configured.
    """
    # Validated even when the public URL replaces it: an invalid Host is a malformed
    # request (RFC 9112 §3.2), refused the same whatever the configuration.
    origin = request_origin(
        scheme=scheme, headers=headers, peer=peer, trusted_proxies=trusted_proxies
    )
    if public_url is not None:
        return _public_htu(public_url, path)
    if origin is None:
        raise InvalidOrigin("the request names no host")
    return _join(origin, path)


@functools.lru_cache(maxsize=4096)
def _join(origin: Origin, path: str) -> str:
    return f"{origin}{normalise_path(path)}"


@functools.lru_cache(maxsize=4096)
def _public_htu(public_url: str, path: str) -> str:
    base = urlsplit(public_url)
    origin = parse_origin(base.scheme, base.netloc)
    return f"{origin}{normalise_path(base.path.rstrip('/') + path)}"
