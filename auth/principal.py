"""The authenticated caller, as the application sees it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what the token says they may do. Immutable and safe to share."""

    subject: str
    issuer: str
    client_id: str | None = None
    name: str | None = None
    email: str | None = None
    username: str | None = None
    scopes: frozenset[str] = frozenset()
    #: Roles found at the configured role claims (realm and this API's client roles).
    roles: frozenset[str] = frozenset()
    #: Keycloak's realm roles (``realm_access.roles``), whatever ``role_claims`` says.
    realm_roles: frozenset[str] = frozenset()
    #: Every client's roles from Keycloak's ``resource_access``.
    client_roles: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY)
    groups: tuple[str, ...] = ()
    #: Unix time after which the access token is no longer accepted.
    expires_at: float | None = None
    #: RFC 7638 thumbprint the token is bound to (``cnf.jkt``), None for Bearer tokens.
    dpop_jkt: str | None = None
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def dpop_bound(self) -> bool:
        return self.dpop_jkt is not None

    def has_roles(self, roles: Sequence[str]) -> bool:
        return self.roles.issuperset(roles)

    def has_scopes(self, scopes: Sequence[str]) -> bool:
        return self.scopes.issuperset(scopes)


def _resolve_pointer(document: Mapping[str, Any], pointer: str) -> Any:
    """RFC 6901 JSON Pointer lookup; None where the path does not exist."""
    if not pointer.startswith("/"):
        return None
    value: Any = document
    for token in pointer[1:].split("/"):
        if not isinstance(value, Mapping):
            return None
        value = value.get(token.replace("~1", "/").replace("~0", "~"))
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def _optional_string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def principal_from_claims(
    claims: Mapping[str, Any],
    *,
    role_claims: Sequence[str],
    groups_claim: str,
    dpop_jkt: str | None,
) -> Principal:
    """Build a principal from verified claims (RFC 9068 §2.2; Keycloak's role claims)."""
    roles = frozenset(
        role for pointer in role_claims for role in _strings(_resolve_pointer(claims, pointer))
    )
    resource_access = claims.get("resource_access")
    client_roles: dict[str, frozenset[str]] = {}
    if isinstance(resource_access, Mapping):
        for client, entry in resource_access.items():
            if isinstance(entry, Mapping):
                client_roles[client] = frozenset(_strings(entry.get("roles")))
    scope = claims.get("scope")
    given, family = claims.get("given_name"), claims.get("family_name")
    name = _optional_string(claims.get("name"))
    if name is None and isinstance(given, str) and isinstance(family, str):
        name = f"{given} {family}".strip() or None
    exp = claims.get("exp")
    return Principal(
        subject=claims["sub"],
        issuer=claims["iss"],
        client_id=_optional_string(claims.get("client_id")) or _optional_string(claims.get("azp")),
        name=name,
        email=_optional_string(claims.get("email")),
        username=_optional_string(claims.get("preferred_username")),
        scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        roles=roles,
        realm_roles=frozenset(_strings(_resolve_pointer(claims, "/realm_access/roles"))),
        client_roles=MappingProxyType(client_roles),
        groups=_strings(_resolve_pointer(claims, groups_claim)),
        expires_at=float(exp)
        if isinstance(exp, int | float) and not isinstance(exp, bool)
        else None,
        dpop_jkt=dpop_jkt,
        claims=MappingProxyType(dict(claims)),
    )
