"""The URL a DPoP proof's htu must match (auth.htu): RFC 3986 §6.2.2-6.2.3 normalisation
and the trusted-proxy rules for forwarded headers."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

import pytest

from auth._htu import expected_htu, normalise_url
from auth._origin import InvalidOrigin, IpNetwork

PROXY = ipaddress.ip_network("10.0.0.0/8")


def _expected(
    request_url: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    peer: str | None = "203.0.113.7",
    public_url: str | None = None,
    trusted_proxies: Sequence[IpNetwork] = (),
) -> str:
    """``expected_htu`` for a request the server received for ``request_url``."""
    parts = urlsplit(request_url)
    return expected_htu(
        scheme=parts.scheme,
        path=parts.path,
        headers=[("host", parts.netloc), *headers],
        peer=peer,
        public_url=public_url,
        trusted_proxies=trusted_proxies,
    )


class TestNormaliseUrl:
    @pytest.mark.parametrize(
        ("url", "normalised"),
        [
            ("https://api.example/todos", "https://api.example/todos"),
            ("HTTPS://API.Example/todos", "https://api.example/todos"),
            ("https://api.example:443/todos", "https://api.example/todos"),
            ("http://api.example:80/todos", "http://api.example/todos"),
            ("https://api.example:/todos", "https://api.example/todos"),
            ("https://api.example:8443/todos", "https://api.example:8443/todos"),
            ("http://api.example:443/todos", "http://api.example:443/todos"),
            ("https://api.example", "https://api.example/"),
            ("https://api.example/%7Etodos", "https://api.example/~todos"),
            ("https://api.example/%74%6F%64%6F%73", "https://api.example/todos"),
            ("https://api.example/a%2fb", "https://api.example/a%2Fb"),
            ("https://api.example/a%20b", "https://api.example/a%20b"),
            ("https://api.example/./todos", "https://api.example/todos"),
            ("https://api.example/x/../todos", "https://api.example/todos"),
            ("https://api.example/../../todos", "https://api.example/todos"),
            ("https://api.example/todos/.", "https://api.example/todos/"),
            ("https://api.example/todos/x/..", "https://api.example/todos/"),
            ("https://api.example/todos?page=2", "https://api.example/todos"),
            ("https://api.example/todos#frag", "https://api.example/todos"),
            ("https://api.example/todos/", "https://api.example/todos/"),
            ("https://[2001:DB8::1]:443/todos", "https://[2001:db8::1]/todos"),
        ],
    )
    def test_syntax_and_scheme_based_normalisation(self, url: str, normalised: str) -> None:
        assert normalise_url(url) == normalised

    def test_the_path_stays_case_sensitive(self) -> None:
        assert normalise_url("https://api.example/Todos") != normalise_url(
            "https://api.example/todos"
        )

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://api.example/todos",
            "/todos",
            "api.example/todos",
            "https://user:pw@api.example/todos",
            "https://api.example:99999/todos",
            "https://api.example:port/todos",
            "wss://api.example/live",
            "https://api.example\t/todos",
            "https://api.ex\nample/todos",
            "https://api.example/to dos",
            "https://api.example/caf\u00e9",
            "https://api.example:443:443/todos",
            "https:///todos",
        ],
    )
    def test_anything_but_an_absolute_http_url_without_userinfo_is_refused(self, url: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 (the function's only error)
            normalise_url(url)


class TestExpectedHtu:
    def test_the_request_url_is_used_by_default(self) -> None:
        htu = _expected(
            "http://api.example:80/todos?x=1",
            headers=[],
            peer="203.0.113.7",
            public_url=None,
            trusted_proxies=(),
        )
        assert htu == "http://api.example/todos"

    def test_a_configured_public_url_wins_over_everything(self) -> None:
        htu = _expected(
            "http://10.1.2.3:8000/todos/1",
            headers=[("x-forwarded-proto", "http"), ("x-forwarded-host", "evil.example")],
            peer="10.0.0.2",
            public_url="https://API.example/base/",
            trusted_proxies=(PROXY,),
        )
        assert htu == "https://api.example/base/todos/1"

    @pytest.mark.parametrize(
        "headers",
        [
            [("x-forwarded-proto", "https"), ("x-forwarded-host", "api.example")],
            [("forwarded", "proto=https;host=api.example")],
            [("forwarded", 'for=192.0.2.1;proto="https";host="api.example"')],
        ],
        ids=["x-forwarded", "forwarded", "forwarded-quoted"],
    )
    def test_forwarded_headers_of_a_trusted_proxy_are_believed(
        self, headers: list[tuple[str, str]]
    ) -> None:
        htu = _expected(
            "http://app:8000/todos",
            headers=headers,
            peer="10.0.0.2",
            public_url=None,
            trusted_proxies=(PROXY,),
        )
        assert htu == "https://api.example/todos"

    @pytest.mark.parametrize("peer", ["203.0.113.7", None, "not-an-ip", "unix:/tmp/socket"])
    def test_forwarded_headers_of_anyone_else_are_ignored(self, peer: str | None) -> None:
        htu = _expected(
            "http://app:8000/todos",
            headers=[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "evil.example"),
                ("forwarded", "proto=https;host=evil.example"),
            ],
            peer=peer,
            public_url=None,
            trusted_proxies=(PROXY,),
        )
        assert htu == "http://app:8000/todos"

    def test_no_trusted_proxies_means_forwarded_headers_are_ignored(self) -> None:
        htu = _expected(
            "http://app:8000/todos",
            headers=[("x-forwarded-proto", "https")],
            peer="10.0.0.2",
            public_url=None,
            trusted_proxies=(),
        )
        assert htu == "http://app:8000/todos"

    def test_forwarded_takes_precedence_over_x_forwarded(self) -> None:
        htu = _expected(
            "http://app:8000/todos",
            headers=[
                ("x-forwarded-proto", "http"),
                ("x-forwarded-host", "old.example"),
                ("forwarded", "proto=https;host=api.example"),
            ],
            peer="10.0.0.2",
            public_url=None,
            trusted_proxies=(PROXY,),
        )
        assert htu == "https://api.example/todos"

    def test_only_the_proto_may_be_forwarded(self) -> None:
        htu = _expected(
            "http://api.example/todos",
            headers=[("x-forwarded-proto", "https")],
            peer="10.0.0.2",
            public_url=None,
            trusted_proxies=(PROXY,),
        )
        assert htu == "https://api.example/todos"

    @pytest.mark.parametrize(
        "headers",
        [
            [("forwarded", "proto=http;host=evil.example, proto=https;host=api.example")],
            [
                ("forwarded", "proto=http;host=evil.example"),
                ("forwarded", "proto=https;host=api.example"),
            ],
            [
                ("x-forwarded-proto", "http, https"),
                ("x-forwarded-host", "evil.example, api.example"),
            ],
            [
                ("x-forwarded-proto", "http"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-host", "api.example"),
            ],
        ],
        ids=["forwarded-list", "forwarded-repeated", "x-forwarded-list", "x-forwarded-repeated"],
    )
    def test_only_the_element_the_trusted_proxy_added_is_believed(
        self, headers: list[tuple[str, str]]
    ) -> None:
        # A proxy appends its element (RFC 7239 §4) to whatever the client sent. Only
        # the direct peer is known to be trusted, so only the last element is its own:
        # the earlier ones came from the client and must not choose the expected htu.
        htu = _expected(
            "http://app:8000/todos",
            headers=headers,
            peer="10.0.0.2",
            public_url=None,
            trusted_proxies=(PROXY,),
        )
        assert htu == "https://api.example/todos"

    def test_an_unusable_forwarded_proto_is_an_error(self) -> None:
        with pytest.raises(InvalidOrigin):
            _expected(
                "http://app:8000/todos",
                headers=[("x-forwarded-proto", "gopher")],
                peer="10.0.0.2",
                public_url=None,
                trusted_proxies=(PROXY,),
            )

    @pytest.mark.parametrize(
        ("request_url", "host"),
        [
            ("https://api.example/todos/b", "api.example/todos/a?"),
            ("https://api.example/todos/b", "api.example/todos/a#"),
            ("https://api.example/todos/b", "api.example?"),
            ("https://api.example/todos/b", "api.example/todos/a"),
        ],
    )
    def test_no_part_of_the_path_comes_from_the_host(self, request_url: str, host: str) -> None:
        # RFC 9449 §4.3 step 9: the URL of this request; RFC 9112 §3.2: Host is host[:port].
        parts = urlsplit(request_url)
        for public_url in (None, "https://api.example"):
            with pytest.raises(InvalidOrigin):
                expected_htu(
                    scheme=parts.scheme,
                    path=parts.path,
                    headers=[("host", host)],
                    peer=None,
                    public_url=public_url,
                    trusted_proxies=(),
                )

    def test_the_request_path_is_taken_as_the_server_received_it(self) -> None:
        # Characters a path cannot hold are escaped, never read as a query or fragment.
        for path, expected in (
            ("/todos/b?x", "/todos/b%3Fx"),
            ("/todos/b#x", "/todos/b%23x"),
            ("/todos/caf\u00c3\u00a9", "/todos/caf%C3%A9"),  # latin-1 decoded UTF-8 bytes
            ("/todos/a b", "/todos/a%20b"),
            ("", "/"),
        ):
            htu = expected_htu(
                scheme="https",
                path=path,
                headers=[("host", "api.example")],
                peer=None,
                public_url=None,
                trusted_proxies=(),
            )
            assert htu == f"https://api.example{expected}"

    def test_without_a_host_the_public_url_is_needed(self) -> None:
        def htu(public_url: str | None) -> str:
            return expected_htu(
                scheme="http",
                path="/todos",
                headers=[],
                peer=None,
                public_url=public_url,
                trusted_proxies=(),
            )

        with pytest.raises(InvalidOrigin):
            htu(None)
        assert htu("https://api.example") == "https://api.example/todos"

    def test_two_host_headers_are_refused(self) -> None:
        with pytest.raises(InvalidOrigin):
            expected_htu(
                scheme="https",
                path="/todos",
                headers=[("host", "api.example"), ("host", "evil.example")],
                peer=None,
                public_url=None,
                trusted_proxies=(),
            )
