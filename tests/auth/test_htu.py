"""The URL a DPoP proof's htu must match (auth.htu): RFC 3986 §6.2.2-6.2.3 normalisation
and the trusted-proxy rules for forwarded headers."""

from __future__ import annotations

import ipaddress

import pytest

from auth.htu import expected_htu, normalise_url

PROXY = ipaddress.ip_network("10.0.0.0/8")


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
        ],
    )
    def test_anything_but_an_absolute_http_url_without_userinfo_is_refused(self, url: str) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 (the function's only error)
            normalise_url(url)


class TestExpectedHtu:
    def test_the_request_url_is_used_by_default(self) -> None:
        htu = expected_htu(
            request_url="http://api.example:80/todos?x=1",
            headers=[],
            peer="203.0.113.7",
            public_url=None,
            trusted_proxies=(),
        )
        assert htu == "http://api.example/todos"

    def test_a_configured_public_url_wins_over_everything(self) -> None:
        htu = expected_htu(
            request_url="http://10.1.2.3:8000/todos/1",
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
        htu = expected_htu(
            request_url="http://app:8000/todos",
            headers=headers,
            peer="10.0.0.2",
            public_url=None,
            trusted_proxies=(PROXY,),
        )
        assert htu == "https://api.example/todos"

    @pytest.mark.parametrize("peer", ["203.0.113.7", None, "not-an-ip", "unix:/tmp/socket"])
    def test_forwarded_headers_of_anyone_else_are_ignored(self, peer: str | None) -> None:
        htu = expected_htu(
            request_url="http://app:8000/todos",
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
        htu = expected_htu(
            request_url="http://app:8000/todos",
            headers=[("x-forwarded-proto", "https")],
            peer="10.0.0.2",
            public_url=None,
            trusted_proxies=(),
        )
        assert htu == "http://app:8000/todos"

    def test_forwarded_takes_precedence_over_x_forwarded(self) -> None:
        htu = expected_htu(
            request_url="http://app:8000/todos",
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
        htu = expected_htu(
            request_url="http://api.example/todos",
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
        htu = expected_htu(
            request_url="http://app:8000/todos",
            headers=headers,
            peer="10.0.0.2",
            public_url=None,
            trusted_proxies=(PROXY,),
        )
        assert htu == "https://api.example/todos"

    def test_an_unusable_forwarded_host_is_an_error(self) -> None:
        with pytest.raises(ValueError):  # noqa: PT011
            expected_htu(
                request_url="http://app:8000/todos",
                headers=[("x-forwarded-proto", "gopher")],
                peer="10.0.0.2",
                public_url=None,
                trusted_proxies=(PROXY,),
            )
