"""Where a request was sent (auth.origin): ``host[:port]`` per RFC 9112 §3.2 and RFC 3986
§3.2, and the trusted-proxy rules of RFC 7239."""

from __future__ import annotations

import ipaddress

import pytest

from auth._origin import InvalidOrigin, Origin, client_address, parse_origin, request_origin

PROXY = ipaddress.ip_network("10.0.0.0/8")


@pytest.mark.parametrize(
    ("scheme", "authority", "origin"),
    [
        ("https", "api.example", "https://api.example"),
        ("HTTPS", "API.Example", "https://api.example"),
        ("https", "api.example:443", "https://api.example"),
        ("http", "api.example:80", "http://api.example"),
        ("http", "api.example:", "http://api.example"),
        ("http", "api.example:8080", "http://api.example:8080"),
        ("http", "api.example:08080", "http://api.example:8080"),
        ("https", "127.0.0.1:8443", "https://127.0.0.1:8443"),
        ("https", "[2001:DB8::1]:443", "https://[2001:db8::1]"),
        ("https", "[::ffff:192.0.2.1]", "https://[::ffff:192.0.2.1]"),
        ("http", "xn--caf-dma.example", "http://xn--caf-dma.example"),
        ("http", "localhost", "http://localhost"),
    ],
)
def test_a_valid_authority_is_normalised(scheme: str, authority: str, origin: str) -> None:
    assert str(parse_origin(scheme, authority)) == origin


@pytest.mark.parametrize(
    "authority",
    [
        "",
        "api.example/",
        "api.example/todos",
        "api.example?",
        "api.example#",
        "user@api.example",
        "user:pw@api.example",
        "api.example:port",
        "api.example:65536",
        "api.example:123456",
        "api.example:80:80",
        "api .example",
        " api.example",
        "api.example\t",
        "api.example\\x",
        "[::1",
        "[not-an-ip]",
        "[fe80::1%25eth0]",
        "[v1.future]",
        "::1",
        ":443",
        "caf\u00e9.example",
        "api\x00.example",
    ],
)
def test_anything_but_host_and_port_is_refused(authority: str) -> None:
    with pytest.raises(InvalidOrigin):
        parse_origin("https", authority)


@pytest.mark.parametrize("scheme", ["ftp", "ws", "", "javascript"])
def test_only_http_and_https_are_origins(scheme: str) -> None:
    with pytest.raises(InvalidOrigin):
        parse_origin(scheme, "api.example")


def test_the_host_header_is_the_origin() -> None:
    origin = request_origin(
        scheme="http", headers=[("host", "api.example:8000")], peer=None, trusted_proxies=()
    )
    assert origin == Origin("http", "api.example:8000")


def test_no_host_is_no_origin_and_two_are_refused() -> None:
    assert request_origin(scheme="http", headers=[], peer=None, trusted_proxies=()) is None
    with pytest.raises(InvalidOrigin):
        request_origin(
            scheme="http",
            headers=[("host", "api.example"), ("host", "api.example")],
            peer=None,
            trusted_proxies=(),
        )


def test_an_invalid_host_is_refused_even_when_a_trusted_proxy_forwards_one() -> None:
    with pytest.raises(InvalidOrigin):
        request_origin(
            scheme="http",
            headers=[("host", "app/x?"), ("x-forwarded-host", "api.example")],
            peer="10.0.0.2",
            trusted_proxies=(PROXY,),
        )


@pytest.mark.parametrize(
    "headers",
    [
        [("x-forwarded-host", "api.example/x?")],
        [("x-forwarded-host", "")],
        [("x-forwarded-host", "api.example, evil.example/x")],
        [("forwarded", 'host="api.example/x?"')],
        [("forwarded", "host=user@api.example")],
        [("x-forwarded-proto", "gopher")],
        [("forwarded", "proto=ftp")],
    ],
)
def test_a_trusted_proxys_forwarded_values_follow_the_same_rule(
    headers: list[tuple[str, str]],
) -> None:
    with pytest.raises(InvalidOrigin):
        request_origin(
            scheme="http",
            headers=[("host", "app:8000"), *headers],
            peer="10.0.0.2",
            trusted_proxies=(PROXY,),
        )


def test_an_untrusted_clients_forwarded_values_are_ignored_not_validated() -> None:
    # They change nothing, so they refuse nothing: the client's own Host decides.
    origin = request_origin(
        scheme="http",
        headers=[("host", "app:8000"), ("x-forwarded-host", "evil/x?")],
        peer="203.0.113.9",
        trusted_proxies=(PROXY,),
    )
    assert origin == Origin("http", "app:8000")


def test_a_forwarded_proto_alone_keeps_the_host() -> None:
    origin = request_origin(
        scheme="http",
        headers=[("host", "api.example:443"), ("x-forwarded-proto", "https")],
        peer="10.0.0.2",
        trusted_proxies=(PROXY,),
    )
    assert origin == Origin("https", "api.example")


NETWORK_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("192.0.2.1", [("x-forwarded-for", "198.51.100.7")], "192.0.2.1"),  # not a proxy
        ("10.0.0.2", [("x-forwarded-for", "203.0.113.9, 198.51.100.7")], "198.51.100.7"),
        (
            "10.0.0.2",
            [("x-forwarded-for", "a"), ("x-forwarded-for", "198.51.100.7")],
            "198.51.100.7",
        ),
        ("10.0.0.2", [("forwarded", "for=198.51.100.7;proto=https")], "198.51.100.7"),
        ("10.0.0.2", [("forwarded", 'for="[2001:db8::1]:4711"')], "2001:db8::1"),
        ("10.0.0.2", [("forwarded", "for=192.0.2.1:80, for=198.51.100.7:443")], "198.51.100.7"),
        ("10.0.0.2", [("forwarded", "for=unknown")], "10.0.0.2"),
        ("10.0.0.2", [("forwarded", "for=_hidden")], "10.0.0.2"),
        ("10.0.0.2", [("x-forwarded-for", "not an address")], "10.0.0.2"),
        ("10.0.0.2", [], "10.0.0.2"),
        # Forwarded wins over X-Forwarded-For (RFC 7239 §4), as for the host.
        (
            "10.0.0.2",
            [("x-forwarded-for", "192.0.2.1"), ("forwarded", "for=198.51.100.7")],
            "198.51.100.7",
        ),
    ],
)
def test_the_client_address_is_the_peer_or_what_a_trusted_proxy_forwarded(
    peer: str, headers: list[tuple[str, str]], expected: str
) -> None:
    assert client_address(headers=headers, peer=peer, trusted_proxies=NETWORK_PROXIES) == expected
