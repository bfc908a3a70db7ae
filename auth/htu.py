"""The request URL a DPoP proof's ``htu`` must match (RFC 9449 §4.3 step 9).

Both sides are compared after RFC 3986 §6.2.2 syntax-based and §6.2.3 scheme-based
normalisation, with query and fragment removed. Written by hand: the one maintained
Python package for RFC 3986 normalisation (``rfc3986``) has had no release since 2022,
and the rules needed here fit in a page.

The expected URL comes from, in order: the configured public URL of the API; the
``Forwarded`` (RFC 7239) or ``X-Forwarded-Proto``/``-Host`` headers, but only when the
direct peer is a configured trusted proxy, and then only the element that proxy
appended; the request as the server received it. An untrusted client's forwarded
headers never change what is expected.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_FORWARDED_PAIR = re.compile(r'(?:^|;)\s*(proto|host)\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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


@functools.lru_cache(maxsize=4096)
def normalise_url(url: str) -> str:
    """Normalise an absolute http(s) URL and drop its query and fragment.

    Cached: a server sees the same few URLs, and proofs name them again and again; the
    cache is bounded, so URLs an attacker makes up only evict each other.

    Raises:
        ValueError: not an absolute http(s) URL, or with userinfo.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        raise ValueError("not an absolute http(s) URL without userinfo")
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port  # raises ValueError on a bad port
    authority = host if port is None or str(port) == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _PERCENT.sub(_normalise_percent, parts.path) or "/"
    return f"{scheme}://{authority}{_remove_dot_segments(path)}"


def _last_element(headers: Sequence[tuple[str, str]], header: str) -> str | None:
    # Proxies append to what they received (RFC 7239 §4; the X-Forwarded-* habit), and
    # only our direct peer is known to be trusted: the last element is the one it
    # added. Earlier ones may have been written by the client.
    values = [value for name, value in headers if name == header]
    if not values:
        return None
    return ",".join(values).split(",")[-1].strip()


def _forwarded_values(headers: Sequence[tuple[str, str]]) -> tuple[str | None, str | None]:
    proto = host = None
    forwarded = _last_element(headers, "forwarded")
    if forwarded is not None:
        for name, value in _FORWARDED_PAIR.findall(forwarded):
            if name.lower() == "proto":
                proto = value.strip('"')
            else:
                host = value.strip('"')
        return proto, host
    return _last_element(headers, "x-forwarded-proto"), _last_element(headers, "x-forwarded-host")


def is_trusted_proxy(peer: str | None, trusted: Sequence[IpNetwork]) -> bool:
    """True when ``peer`` (an IP address) is inside one of the ``trusted`` networks."""
    if not peer or not trusted:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def expected_htu(
    *,
    request_url: str,
    headers: Sequence[tuple[str, str]],
    peer: str | None,
    public_url: str | None,
    trusted_proxies: Sequence[IpNetwork],
) -> str:
    """The normalised URL this request was addressed to, for comparison with ``htu``.

    ``headers`` are (lower-case name, value) pairs; ``peer`` is the direct client address.

    Raises:
        ValueError: the resulting URL is not an absolute http(s) URL.
    """
    path = urlsplit(request_url).path or "/"
    if public_url is not None:
        base = urlsplit(public_url)
        return normalise_url(f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}{path}")
    if is_trusted_proxy(peer, trusted_proxies):
        proto, host = _forwarded_values(headers)
        if proto or host:
            actual = urlsplit(request_url)
            return normalise_url(f"{proto or actual.scheme}://{host or actual.netloc}{path}")
    return normalise_url(request_url)
