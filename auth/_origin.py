"""Where a request was sent: its scheme and authority, validated (RFC 9112 §3.2, RFC 3986
§3.2, RFC 7239).

The authority comes from the ``Host`` header, or from ``X-Forwarded-Host`` /
``Forwarded: host=`` when, and only when, the direct peer is a configured trusted proxy;
then only the element that proxy appended is read. Whatever its source, it must be
``host[:port]`` and nothing else: no userinfo, path, query, fragment, whitespace, and not
empty. A header is never allowed to contribute a path: ``Host: api.example/x?`` would
otherwise move the URL a DPoP proof is checked against.

Written by hand: Python's ``urlsplit`` accepts all of the above in a netloc (and strips
tabs and newlines), and no maintained library validates a bare authority.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ), here non-empty
# (RFC 9110 §4.2.1: an http(s) URI has a non-empty host); IP-literal = "[" IPv6address
# "]" (IPvFuture and zone identifiers are refused). §3.2.3: port = *DIGIT.
_AUTHORITY = re.compile(
    r"(?P<host>(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+|\[(?P<ipv6>[0-9A-Fa-f:.]+)\])"
    r"(?::(?P<port>[0-9]{0,5}))?"
)
_FORWARDED_PAIR = re.compile(r'(?:^|;)\s*(proto|host)\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)
_FORWARDED_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)


class InvalidOrigin(ValueError):
    """The request's scheme or authority is not acceptable; the message says which."""


@dataclass(frozen=True, slots=True)
class Origin:
    """A validated scheme and authority, normalised (RFC 3986 §6.2.2-6.2.3): lower-case
    scheme and host, no port when it is the scheme's default."""

    scheme: str
    authority: str

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}"


def parse_origin(scheme: str, authority: str) -> Origin:
    """Validate and normalise ``scheme`` (http or https) and ``authority`` (host[:port]).

    Raises:
        InvalidOrigin: another scheme, or an authority that is not ``host[:port]``.
    """
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidOrigin("the scheme is not http or https")
    match = _AUTHORITY.fullmatch(authority)
    if match is None:
        raise InvalidOrigin("the authority is not host[:port]")
    if match.group("ipv6") is not None:
        try:
            ipaddress.IPv6Address(match.group("ipv6"))
        except ValueError:
            raise InvalidOrigin("the authority is not host[:port]") from None
    host, port = match.group("host").lower(), match.group("port")
    if port:  # an empty port means the default one (RFC 3986 §6.2.3)
        if int(port) > 65535:
            raise InvalidOrigin("the port is out of range")
        if int(port) != DEFAULT_PORTS[scheme]:
            return Origin(scheme, f"{host}:{int(port)}")
    return Origin(scheme, host)


def _last_element(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    # Proxies append to what they received (RFC 7239 §4; the X-Forwarded-* habit), and
    # only our direct peer is known to be trusted: the last element is the one it
    # added. Earlier ones may have been written by the client.
    values = [value for key, value in headers if key == name]
    if not values:
        return None
    return ",".join(values).split(",")[-1].strip()


def _forwarded(headers: Sequence[tuple[str, str]]) -> tuple[str | None, str | None]:
    """The (proto, host) the trusted proxy forwarded; ``Forwarded`` wins over
    ``X-Forwarded-*`` (RFC 7239 §4)."""
    forwarded = _last_element(headers, "forwarded")
    if forwarded is None:
        return _last_element(headers, "x-forwarded-proto"), _last_element(
            headers, "x-forwarded-host"
        )
    proto = host = None
    for name, value in _FORWARDED_PAIR.findall(forwarded):
        if name.lower() == "proto":
            proto = value.strip('"')
        else:
            host = value.strip('"')
    return proto, host


def is_trusted_proxy(peer: str | None, trusted: Sequence[IpNetwork]) -> bool:
    """True when the direct peer's address lies in a trusted proxy network."""
    if not peer or not trusted:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def _address(value: str) -> str | None:
    """An IP address out of a ``for=`` node (RFC 7239 §6: ``192.0.2.1``, ``"[2001:db8::1]:443"``)
    or an ``X-Forwarded-For`` element; None for ``unknown``, obfuscated ids, garbage."""
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]  # IPv4 with a port
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_address(
    *, headers: Sequence[tuple[str, str]], peer: str | None, trusted_proxies: Sequence[IpNetwork]
) -> str | None:
    """The address of the client a request comes from: the direct peer, or, when that is
    a trusted proxy, the address the proxy forwarded (the last element of ``Forwarded:
    for=``, else of ``X-Forwarded-For``, as for the host: only the element our peer
    added is trusted). A proxy that forwards no valid address leaves its own.
    ``headers`` are (lower-case name, value) pairs."""
    if not is_trusted_proxy(peer, trusted_proxies):
        return peer
    forwarded = _last_element(headers, "forwarded")
    if forwarded is not None:
        nodes = _FORWARDED_FOR.findall(forwarded)
        found = _address(nodes[-1]) if nodes else None
    else:
        element = _last_element(headers, "x-forwarded-for")
        found = _address(element) if element is not None else None
    return found or peer


def request_origin(
    *,
    scheme: str,
    headers: Sequence[tuple[str, str]],
    peer: str | None,
    trusted_proxies: Sequence[IpNetwork],
) -> Origin | None:
    """The origin a request was addressed to; None when it names none (no ``Host``, as
    HTTP/1.0 allows). ``headers`` are (lower-case name, value) pairs.

    Raises:
        InvalidOrigin: more than one ``Host`` (RFC 9112 §3.2), or a ``Host``, forwarded
            host or forwarded proto that is not valid.
    """
    hosts = [value for name, value in headers if name == "host"]
    if len(hosts) > 1:
        raise InvalidOrigin("more than one Host header")
    # The Host is validated even when a proxy's value replaces it: a request carrying
    # an invalid one is malformed (RFC 9112 §3.2), whoever relayed it.
    origin = parse_origin(scheme, hosts[0]) if hosts else None
    if is_trusted_proxy(peer, trusted_proxies):
        proto, host = _forwarded(headers)
        if proto is not None or host is not None:
            authority = host if host is not None else (hosts[0] if hosts else None)
            if authority is None:
                raise InvalidOrigin("the forwarded request names no host")
            return parse_origin(proto or scheme, authority)
    return origin
