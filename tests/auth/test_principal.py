"""The authenticated caller built from verified claims (auth.principal)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from auth._principal import Principal, principal_from_claims
from auth._profiles import ProviderProfile
from tests.auth.fakes import IsolatedSettings


def _profile(
    *,
    role_claims: tuple[str, ...] = (),
    client_id_claims: tuple[str, ...] = ("client_id", "azp"),
    scope_claims: tuple[str, ...] = ("scope",),
) -> ProviderProfile:
    return ProviderProfile(
        accepted_typ=("at+jwt",),
        required_claims=(),
        client_id_claims=client_id_claims,
        scope_claims=scope_claims,
        role_claims=role_claims,
    )


KEYCLOAK_CLAIMS: dict[str, Any] = {
    "iss": "https://idp.example/realms/todo",
    "sub": "f1c1-4e",
    "aud": ["todo-api", "account"],
    "exp": 1_750_000_300,
    "iat": 1_750_000_000,
    "jti": "j-1",
    "typ": "Bearer",
    "azp": "todo-spa",
    "scope": "openid profile email",
    "preferred_username": "alice",
    "email": "alice@example.test",
    "given_name": "Alice",
    "family_name": "Liddell",
    "realm_access": {"roles": ["todo-user", "offline_access"]},
    "resource_access": {
        "todo-api": {"roles": ["todo-admin"]},
        "account": {"roles": ["manage-account"]},
    },
    "groups": ["/customers", "/beta"],
}


def _principal(
    claims: dict[str, Any],
    *,
    audience: str = "todo-api",
    provider: str = "keycloak",
    dpop_jkt: str | None = None,
) -> Principal:
    settings = IsolatedSettings(
        issuer_uri="https://idp.example/realms/todo", audience=audience, provider=provider
    )
    profile = settings.trusted_issuers()[0].profile
    return principal_from_claims(
        claims, profile=profile, groups_claim=settings.groups_claim, dpop_jkt=dpop_jkt
    )


def test_a_keycloak_token_becomes_a_principal() -> None:
    principal = _principal(KEYCLOAK_CLAIMS)
    assert principal.subject == "f1c1-4e"
    assert principal.issuer == "https://idp.example/realms/todo"
    assert principal.client_id == "todo-spa"
    assert principal.username == "alice"
    assert principal.email == "alice@example.test"
    assert principal.name == "Alice Liddell"
    assert principal.scopes == {"openid", "profile", "email"}
    assert principal.groups == ("/customers", "/beta")
    assert principal.expires_at == 1_750_000_300.0
    assert principal.dpop_jkt is None
    assert not principal.dpop_bound


def test_roles_are_the_realm_roles_and_this_apis_client_roles() -> None:
    principal = _principal(KEYCLOAK_CLAIMS)
    assert principal.roles == {"todo-user", "offline_access", "todo-admin"}
    assert "manage-account" not in principal.roles  # another client's role


def test_another_clients_roles_are_not_this_apis_roles() -> None:
    assert "todo-admin" not in _principal(KEYCLOAK_CLAIMS, audience="other-api").roles


def test_client_roles_of_an_audience_that_is_a_url_are_found() -> None:
    claims = {**KEYCLOAK_CLAIMS, "resource_access": {"https://api.example/": {"roles": ["x"]}}}
    assert "x" in _principal(claims, audience="https://api.example/").roles


def test_name_prefers_the_name_claim() -> None:
    assert _principal({**KEYCLOAK_CLAIMS, "name": "Al"}).name == "Al"


def test_client_id_prefers_the_rfc9068_claim_over_azp() -> None:
    assert _principal({**KEYCLOAK_CLAIMS, "client_id": "cli"}).client_id == "cli"


@pytest.mark.parametrize(
    ("changes", "attribute", "expected"),
    [
        ({"realm_access": {"roles": "todo-user"}}, "roles", {"todo-admin"}),
        ({"realm_access": {"roles": ["a", 1, None, {"x": 1}]}}, "roles", {"a", "todo-admin"}),
        ({"realm_access": ["todo-user"]}, "roles", {"todo-admin"}),
        ({"resource_access": {"todo-api": "admin"}}, "roles", {"todo-user", "offline_access"}),
        ({"groups": "admins"}, "groups", ()),
        ({"scope": 42}, "scopes", frozenset()),
        ({"email": ""}, "email", None),
        ({"email": 5}, "email", None),
        ({"exp": True}, "expires_at", None),
        ({"exp": "soon"}, "expires_at", None),
    ],
)
def test_malformed_optional_claims_are_ignored_not_trusted(
    changes: dict[str, Any], attribute: str, expected: object
) -> None:
    value = getattr(_principal({**KEYCLOAK_CLAIMS, **changes}), attribute)
    assert value == expected


def test_the_principal_and_its_claims_are_immutable() -> None:
    principal = _principal(KEYCLOAK_CLAIMS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.subject = "mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        principal.claims["sub"] = "mallory"  # type: ignore[index]


def test_the_claims_are_a_copy() -> None:
    claims = dict(KEYCLOAK_CLAIMS)
    principal = _principal(claims)
    claims["sub"] = "changed"
    assert principal.claims["sub"] == "f1c1-4e"


def test_a_dpop_bound_principal_knows_its_key() -> None:
    principal = _principal(KEYCLOAK_CLAIMS, dpop_jkt="0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
    assert principal.dpop_bound


def test_role_and_scope_checks_require_every_one() -> None:
    principal = _principal(KEYCLOAK_CLAIMS)
    assert principal.has_roles(["todo-user", "todo-admin"])
    assert not principal.has_roles(["todo-user", "root"])
    assert principal.has_roles([])
    assert principal.has_scopes(["openid", "email"])
    assert not principal.has_scopes(["todo:write"])


@pytest.mark.parametrize(
    ("pointer", "claims", "roles"),
    [
        ("/a~1b/roles", {"a/b": {"roles": ["x"]}}, {"x"}),
        ("/a~0b/roles", {"a~b": {"roles": ["y"]}}, {"y"}),
        ("a-top-level-name", {"a-top-level-name": ["z"]}, {"z"}),
        ("/missing/roles", {}, set()),
        ("/list/0", {"list": [["r"]]}, set()),
    ],
)
def test_role_claims_are_rfc6901_json_pointers_or_top_level_names(
    pointer: str, claims: dict[str, Any], roles: set[str]
) -> None:
    base = {"sub": "s", "iss": "i"}
    principal = principal_from_claims(
        base | claims,
        profile=_profile(role_claims=(pointer,)),
        groups_claim="/groups",
        dpop_jkt=None,
    )
    assert principal.roles == roles


def test_roles_may_be_the_keys_of_an_object() -> None:
    # Zitadel: {"urn:zitadel:iam:org:project:roles": {"admin": {"<org id>": "<domain>"}}}.
    claims = {
        "sub": "s",
        "iss": "i",
        "urn:zitadel:iam:org:project:roles": {"admin": {"1": "a.example"}, "user": {}},
    }
    principal = principal_from_claims(
        claims,
        profile=_profile(role_claims=("/urn:zitadel:iam:org:project:roles",)),
        groups_claim="/groups",
        dpop_jkt=None,
    )
    assert principal.roles == {"admin", "user"}


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "a b"}, {"a", "b"}),
        ({"scp": "a b"}, {"a", "b"}),  # Entra ID
        ({"scp": ["a", "b", 3]}, {"a", "b"}),  # Okta, Hydra
        ({"scope": "a", "scp": ["b"]}, {"a", "b"}),
    ],
)
def test_scopes_come_from_scope_and_scp(claims: dict[str, Any], scopes: set[str]) -> None:
    principal = principal_from_claims(
        {"sub": "s", "iss": "i", **claims},
        profile=_profile(scope_claims=("scope", "scp")),
        groups_claim="/groups",
        dpop_jkt=None,
    )
    assert principal.scopes == scopes


def test_the_client_id_is_the_first_present_alias() -> None:
    claims = {"sub": "s", "iss": "i", "appid": "v1-app", "azp": ""}
    principal = principal_from_claims(
        claims,
        profile=_profile(client_id_claims=("client_id", "azp", "appid")),
        groups_claim="/groups",
        dpop_jkt=None,
    )
    assert principal.client_id == "v1-app"


def test_any_role_needs_only_one() -> None:
    principal = _principal(KEYCLOAK_CLAIMS)
    assert principal.has_any_role(["root", "todo-admin"])
    assert not principal.has_any_role(["root"])
    assert not principal.has_any_role([])
