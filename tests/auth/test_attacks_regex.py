"""Every regular expression that reads attacker-chosen text runs in time linear in it:
crafted input of 64 KiB within a small factor of plain input of the same size, measured
in the same test (``tests.linear_time``). The redaction patterns have their own cases
in ``test_redaction.py``; the application's (If-Match, request ids) in ``tests/app``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import httpx
import pytest

from auth._credentials import HttpRequest, check_token_syntax, extract_credentials
from auth._errors import AuthError
from auth._htu import normalise_path, normalise_url
from auth._jwks import cache_lifetime
from auth._origin import InvalidOrigin, client_address, parse_origin, request_origin
from tests.linear_time import assert_linear, fit

TRUSTED = ["127.0.0.1/32"]


def _quietly(function: Callable[[str], object]) -> Callable[[str], object]:
    def call(value: str) -> object:
        with contextlib.suppress(InvalidOrigin, AuthError, ValueError):
            return function(value)
        return None

    return call


def _authority(value: str) -> object:
    return parse_origin("https", value)


def _forwarded(value: str) -> object:
    import ipaddress

    return request_origin(
        scheme="http",
        headers=[("host", "api.example"), ("forwarded", value)],
        peer="127.0.0.1",
        trusted_proxies=[ipaddress.ip_network(network) for network in TRUSTED],
    )


def _forwarded_for(value: str) -> object:
    import ipaddress

    return client_address(
        headers=[("forwarded", value)],
        peer="127.0.0.1",
        trusted_proxies=[ipaddress.ip_network(network) for network in TRUSTED],
    )


def _credentials(value: str) -> object:
    request = HttpRequest("GET", "https", "/", [("authorization", value)])
    credentials = extract_credentials(request)
    check_token_syntax(credentials)
    return credentials


def _cache_control(value: str) -> object:
    return cache_lifetime(
        httpx.Headers({"cache-control": value}), minimum=60, maximum=86400, default=300
    )


CASES: list[tuple[str, Callable[[str], object], str, dict[str, str]]] = [
    (
        "Host",
        _authority,
        fit("api-") + ".example",
        {
            "unreserved then a slash": fit("a") + "/",
            "percent escapes cut short": fit("%a"),
            "an IPv6 literal never closed": "[" + fit("1:"),
            "a long port": "a:" + fit("1"),
        },
    ),
    (
        "Forwarded",
        _forwarded,
        # One element: a trusted proxy's element is the last one, so commas would cut
        # the plain input short.
        fit("for=192.0.2.1;proto=https;host=api.example;"),
        {
            "semicolons": fit(";"),
            "spaces after a semicolon": ";" + fit(" "),
            "names without =": fit(";proto "),
            "an unterminated quote": 'host="' + fit("a"),
            "quotes": fit('host="'),
        },
    ),
    (
        "Forwarded for",
        _forwarded_for,
        fit("proto=https;host=api.example;for=192.0.2.1;"),
        {
            "semicolons": fit(";"),
            "spaces after a semicolon": ";" + fit(" "),
            "an unterminated quote": 'for="' + fit("a"),
            "for without =": fit(";for "),
        },
    ),
    (
        "Authorization",
        _credentials,
        "Bearer " + fit("abcdefgh"),
        {
            "padding then a letter": "Bearer " + fit("a=") + "a",
            "token characters then a space": "Bearer " + fit("a.") + " x",
        },
    ),
    (
        "path",
        normalise_path,
        fit("/api/todos/"),
        {"percent signs": fit("%"), "escapes": fit("%4"), "dot segments": fit("/../.")},
    ),
    (
        "URL",
        normalise_url.__wrapped__,  # uncached: plain input would be a cache hit
        "https://api.example" + fit("/api/todos"),
        {"controls at the end": "https://api.example/" + fit("a") + "\x00"},
    ),
    (
        "Cache-Control",
        _cache_control,
        fit("public, max-age=300, "),
        {
            "commas": fit(","),
            "spaces": "," + fit(" "),
            "max-age without a value": fit("max-age= "),
            "digits without the end": "max-age=" + fit("1") + "x",
            "no-cache prefixes": fit(",no-cachex"),
        },
    ),
]


@pytest.mark.parametrize(
    ("what", "function", "plain", "worst"), CASES, ids=[case[0] for case in CASES]
)
def test_patterns_over_attacker_text_take_linear_time(
    what: str, function: Callable[[str], object], plain: str, worst: dict[str, str]
) -> None:
    assert_linear(_quietly(function), worst=worst, plain=plain)
