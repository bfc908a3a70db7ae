"""The authenticated caller, as the application sees it, built from verified claims.

Where a provider puts the client id, the scopes and the roles is a provider profile's
business (``auth._profiles``); this module reads them where the profile says: a claim's
name, or a JSON Pointer to a nested one (``auth._claim_paths``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._claim_paths import claim_value
from ._profiles import ProviderProfile

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
    #: Scopes from the profile's scope claims (``scope``, ``scp``...).
    scopes: frozenset[str] = frozenset()
    #: Roles found at the profile's role claims (lists, or objects keyed by role).
    roles: frozenset[str] = frozenset()
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

    def has_any_role(self, roles: Sequence[str]) -> bool:
        return not self.roles.isdisjoint(roles)

    def has_scopes(self, scopes: Sequence[str]) -> bool:
        return self.scopes.issuperset(scopes)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def _role_names(value: Any) -> tuple[str, ...]:
    # A list of names (Keycloak, Entra, Okta groups), or an object whose keys are the
    # names (Zitadel: {"admin": {"<org id>": "<org domain>"}}).
    if isinstance(value, Mapping):
        return tuple(key for key in value if isinstance(key, str))
    return _strings(value)


def _scope_words(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    return _strings(value)


def _optional_string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def principal_from_claims(
    claims: Mapping[str, Any],
    *,
    profile: ProviderProfile,
    groups_claim: str,
    dpop_jkt: str | None,
) -> Principal:
    """Build a principal from verified claims (RFC 9068 §2.2), reading the client id,
    scopes and roles where the provider ``profile`` says they are (claim names or JSON
    Pointers, ``auth._claim_paths``)."""
    roles = frozenset(
        role for where in profile.role_claims for role in _role_names(claim_value(claims, where))
    )
    scopes = frozenset(
        word for where in profile.scope_claims for word in _scope_words(claim_value(claims, where))
    )
    client_id = next(
        (
            value
            for name in profile.client_id_claims
            if (value := _optional_string(claims.get(name)))
        ),
        None,
    )
    given, family = claims.get("given_name"), claims.get("family_name")
    name = _optional_string(claims.get("name"))
    if name is None and isinstance(given, str) and isinstance(family, str):
        name = f"{given} {family}".strip() or None
    exp = claims.get("exp")
    return Principal(
        subject=claims["sub"],
        issuer=claims["iss"],
        client_id=client_id,
        name=name,
        email=_optional_string(claims.get("email")),
        username=_optional_string(claims.get("preferred_username")),
        scopes=scopes,
        roles=roles,
        groups=_strings(claim_value(claims, groups_claim)),
        expires_at=float(exp)
        if isinstance(exp, int | float) and not isinstance(exp, bool)
        else None,
        dpop_jkt=dpop_jkt,
        claims=MappingProxyType(dict(claims)),
    )
