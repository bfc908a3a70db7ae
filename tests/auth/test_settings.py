"""Configuration read from OIDC_* variables (auth.settings)."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import ValidationError

from auth._jws import SUPPORTED_ALGORITHMS
from auth._settings import AuthMode, AuthSettings
from tests.auth.fakes import IsolatedSettings


@pytest.fixture(autouse=True)
def _no_oidc_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings are read from the process environment: start each test from none.
    import os

    for name in list(os.environ):
        if name.upper().startswith("OIDC_"):
            monkeypatch.delenv(name)


def test_defaults_verify_with_every_supported_algorithm() -> None:
    settings = AuthSettings()
    assert settings.mode is AuthMode.VERIFY
    assert settings.algorithms == SUPPORTED_ALGORITHMS
    assert settings.leeway_seconds == 30
    assert settings.profile().accepted_typ == ("at+jwt",)  # strict RFC 9068 for Keycloak
    assert settings.trusted_proxies == ()
    assert settings.dpop_nonce is False


def test_values_come_from_oidc_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OIDC_ISSUER_URI", "https://idp.example/realms/todo")
    monkeypatch.setenv("OIDC_AUDIENCE", "todo-api")
    monkeypatch.setenv("OIDC_MODE", "static")
    monkeypatch.setenv("OIDC_DPOP_NONCE_SECRET", "s3cret")
    settings = AuthSettings()
    assert settings.issuer_uri == "https://idp.example/realms/todo"
    assert settings.mode is AuthMode.STATIC
    assert settings.dpop_nonce_secret is not None
    assert settings.dpop_nonce_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    "value", ["RS256 ES256", "RS256,ES256", " RS256 , ES256 ", '["RS256", "ES256"]']
)
def test_lists_are_words_or_a_json_array(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("OIDC_ALGORITHMS", value)
    assert AuthSettings().algorithms == ("RS256", "ES256")


def test_trusted_proxies_are_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OIDC_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ::1")
    assert AuthSettings().trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )


@pytest.mark.parametrize("algorithms", ["none", "HS256", "RS256 HS256", "rs256", "", "NONE"])
def test_only_supported_asymmetric_algorithms_are_accepted(algorithms: str) -> None:
    with pytest.raises(ValidationError, match="OIDC_ALGORITHMS"):
        IsolatedSettings(algorithms=algorithms)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://idp.example",
        "idp.example/realms/todo",
        "https://idp.example/realms/todo?x=1",
        "https://idp.example/realms/todo#x",
        "https://",
        "https://user@idp.example/realms/todo",
        "https://idp.example:99999/realms/todo",
        "https://idp.example:port/realms/todo",
        "https://idp example/realms/todo",
        "https://idp.example\t/realms/todo",
    ],
)
@pytest.mark.parametrize("field", ["issuer_uri", "discovery_uri", "public_url"])
def test_urls_must_be_absolute_http_without_query_or_fragment(field: str, url: str) -> None:
    # An authority that is not host[:port] (RFC 3986 §3.2) is refused at start-up, not
    # on every DPoP request that would need it.
    with pytest.raises(ValidationError):
        IsolatedSettings(**{field: url})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("leeway_seconds", -1),
        ("leeway_seconds", 301),
        ("jwks_refetch_cooldown_seconds", 0),
        ("dpop_max_age_seconds", 601),
        ("replay_max_entries", 10),
        ("http_timeout_seconds", 0),
    ],
)
def test_numbers_out_of_bounds_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        IsolatedSettings(**{field: value})


def test_a_minimum_jwks_lifetime_above_the_maximum_is_refused() -> None:
    with pytest.raises(ValidationError, match="MIN_TTL"):
        IsolatedSettings(jwks_min_ttl_seconds=100, jwks_max_ttl_seconds=10)


def test_settings_are_immutable() -> None:
    settings = IsolatedSettings()
    with pytest.raises(ValidationError):
        settings.audience = "other"  # type: ignore[misc]


def test_discovery_defaults_to_the_issuers_well_known_document() -> None:
    settings = IsolatedSettings(issuer_uri="https://idp.example/realms/todo/", audience="a")
    assert settings.trusted_issuers()[0].discovery_uri == (
        "https://idp.example/realms/todo/.well-known/openid-configuration"
    )
    explicit = IsolatedSettings(
        issuer_uri="https://idp.example/realms/todo",
        audience="a",
        discovery_uri="http://keycloak:8080/realms/todo/.well-known/openid-configuration",
    )
    assert explicit.trusted_issuers()[0].discovery_uri.startswith("http://keycloak:8080/")


def test_without_an_issuer_nothing_is_trusted() -> None:
    assert IsolatedSettings().trusted_issuers() == ()
    assert IsolatedSettings(issuer_uri="https://idp.example").trusted_issuers() == ()


def test_role_claims_name_this_apis_client_roles() -> None:
    settings = IsolatedSettings(issuer_uri="https://i.example", audience="todo-api")
    assert settings.trusted_issuers()[0].profile.role_claims == (
        "/realm_access/roles",
        "/resource_access/todo-api/roles",
    )


@pytest.mark.parametrize(
    ("audience", "pointer"),
    [
        ("https://api.example/todo", "/resource_access/https:~1~1api.example~1todo/roles"),
        ("team~todo", "/resource_access/team~0todo/roles"),
    ],
)
def test_an_audience_is_escaped_inside_the_json_pointer(audience: str, pointer: str) -> None:
    # RFC 6901 §3: "/" and "~" inside a reference token are written "~1" and "~0";
    # Keycloak client ids may be URLs.
    settings = IsolatedSettings(issuer_uri="https://i.example", audience=audience)
    assert settings.trusted_issuers()[0].profile.role_claims[1] == pointer


@pytest.mark.parametrize("value", ["dpop+jwt", "at+jwt logout+jwt", "id_token+jwt", ""])
def test_only_access_token_types_can_be_accepted(value: str) -> None:
    with pytest.raises(ValueError, match="OIDC_ACCEPTED_TYP"):
        IsolatedSettings(accepted_typ=value)


def test_explicit_shape_settings_win_over_the_profile() -> None:
    settings = IsolatedSettings(provider="entra", scope_claims="scope", required_claims="")
    profile = settings.profile()
    assert profile.accepted_typ == ("jwt",)  # the profile's
    assert profile.scope_claims == ("scope",)  # explicit
    assert profile.required_claims == ()  # explicit, even empty
