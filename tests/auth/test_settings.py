"""Configuration read from OIDC_* variables (auth.settings)."""

from __future__ import annotations

import ipaddress
import json

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
    with pytest.raises(ValidationError, match="non-empty subset of RS256"):
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
    with pytest.raises(ValueError, match="may list at\\+jwt, jwt and absent"):
        IsolatedSettings(accepted_typ=value)


def test_explicit_shape_settings_win_over_the_profile() -> None:
    settings = IsolatedSettings(provider="entra", scope_claims="scope", required_claims="")
    profile = settings.profile()
    assert profile.accepted_typ == ("jwt",)  # the profile's
    assert profile.scope_claims == ("scope",)  # explicit
    assert profile.required_claims == ()  # explicit, even empty


def test_role_and_scope_claims_take_names_dotted_paths_and_pointers() -> None:
    settings = IsolatedSettings(
        issuer_uri="https://tenant.auth0.example/",
        audience="https://api.example",
        provider="auth0",
        role_claims="https://example.com/roles realm_access.roles /groups",
        scope_claims="scope ext.scopes",
        groups_claim="org.groups",
    )
    profile = settings.trusted_issuers()[0].profile
    assert profile.role_claims == ("https://example.com/roles", "/realm_access/roles", "groups")
    assert profile.scope_claims == ("scope", "/ext/scopes")
    assert settings.groups_claim == "/org/groups"


@pytest.mark.parametrize("field", ["role_claims", "scope_claims", "groups_claim"])
def test_an_ambiguous_claim_value_is_refused(field: str) -> None:
    with pytest.raises(ValidationError, match="ambiguous: write /realm_access/roles"):
        IsolatedSettings(**{field: "realm_access/roles"})


def _entries(*entries: dict[str, object]) -> str:
    return json.dumps(list(entries))


def test_each_issuers_entry_may_override_the_profile_and_the_explicit_settings() -> None:
    settings = IsolatedSettings(
        scope_claims="scope",
        issuers=_entries(
            {"issuer": "https://kc.example/realms/a", "audience": "api", "provider": "keycloak"},
            {
                "issuer": "https://tenant.auth0.example/",
                "audience": "api",
                "provider": "auth0",
                "role_claims": ["https://example.com/roles"],
                "scope_claims": "permissions",
                "accepted_typ": ["jwt"],
                "required_claims": [],
            },
        ),
    )
    keycloak, auth0 = settings.trusted_issuers()
    assert keycloak.profile.scope_claims == ("scope",)  # the explicit setting
    assert keycloak.profile.accepted_typ == ("at+jwt",)  # the profile's
    assert auth0.profile.role_claims == ("https://example.com/roles",)  # the entry's
    assert auth0.profile.scope_claims == ("permissions",)
    assert auth0.profile.accepted_typ == ("jwt",)
    assert auth0.profile.required_claims == ()  # an empty list is a value
    assert auth0.profile.client_id_claims == ("client_id", "azp")  # the profile's


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"role_claims": "realm_access/roles"}, "ambiguous"),
        ({"accepted_typ": ["dpop+jwt"]}, "may list at"),
        ({"required_claims": ["sub"]}, "jti and client_id"),
        ({"roles_claim": "/roles"}, "Extra inputs"),
        ({"tenants": ["a"]}, "only for an issuer holding"),
    ],
)
def test_an_invalid_override_in_an_entry_is_refused(entry: dict[str, object], says: str) -> None:
    base = {"issuer": "https://idp.example", "audience": "api"}
    with pytest.raises(ValidationError, match=says):
        IsolatedSettings(issuers=_entries(base | entry))


ENTRA = "https://login.microsoftonline.com/{tenantid}/v2.0"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def test_a_multi_tenant_issuer_is_a_template_with_its_tenants() -> None:
    settings = IsolatedSettings(issuer_uri=ENTRA, audience="api://todo", tenants=TENANT)
    (trusted,) = settings.trusted_issuers()
    assert trusted.is_template
    assert trusted.tenants == (TENANT,)
    tenant = trusted.for_tenant(TENANT)
    assert tenant.issuer == f"https://login.microsoftonline.com/{TENANT}/v2.0"
    assert tenant.discovery_uri == (
        f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
    )
    assert not tenant.is_template


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"issuer_uri": ENTRA}, "needs the tenants it accepts"),
        ({"issuer_uri": ENTRA, "tenants": ""}, "needs the tenants it accepts"),
        ({"issuer_uri": ENTRA, "tenants": "* " + TENANT}, "list it alone"),
        ({"issuer_uri": ENTRA, "tenants": "a/b"}, "not tenant ids"),
        ({"issuer_uri": "https://{tenantid}.example/v2.0", "tenants": "*"}, "authority is host"),
        ({"issuer_uri": "https://x.example/t{tenantid}/v2.0", "tenants": "*"}, "whole path"),
        ({"issuer_uri": "https://x.example/{tenantid}/{tenantid}", "tenants": "*"}, "once"),
        ({"issuer_uri": "https://x.example/a", "tenants": "*"}, "only for an issuer holding"),
        (
            {
                "issuer_uri": ENTRA,
                "tenants": "*",
                "discovery_uri": "https://login.microsoftonline.com/common/v2.0/.well-known/x",
            },
            "once, as a whole path segment",
        ),
    ],
)
def test_a_template_that_could_let_a_token_choose_a_url_is_refused(
    values: dict[str, str], says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        IsolatedSettings(audience="api", **values)
