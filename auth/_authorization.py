"""Authorization of an authenticated caller: required scopes and roles (RFC 6750 §3.1:
``insufficient_scope``, 403). Framework-neutral; each adapter answers the refusal in the
challenge of the scheme the caller authenticated with."""

from __future__ import annotations

from collections.abc import Sequence

from ._errors import Check, InsufficientScope, Scheme
from ._principal import Principal


def scheme_of(principal: Principal) -> Scheme:
    """The scheme a principal authenticated with. RFC 9449 §7.2: a refusal goes in the
    challenge of that scheme, and a DPoP-bound principal can only have used ``DPoP``."""
    return "DPoP" if principal.dpop_bound else "Bearer"


def check_scopes(principal: Principal, scopes: Sequence[str]) -> Principal:
    """``principal`` if its token was granted every one of ``scopes``.

    Raises:
        InsufficientScope: a scope is missing (403), named in the challenge.
    """
    if not principal.has_scopes(scopes):
        raise InsufficientScope(
            f"requires the scope {' '.join(scopes)}", check=Check.REQUIRED_SCOPE, scope=scopes
        ).with_scheme(scheme_of(principal))
    return principal


def check_roles(principal: Principal, roles: Sequence[str]) -> Principal:
    """``principal`` if it holds every one of ``roles``.

    Raises:
        InsufficientScope: a role is missing (403).
    """
    if not principal.has_roles(roles):
        raise InsufficientScope(
            f"requires the role {', '.join(roles)}", check=Check.REQUIRED_ROLE
        ).with_scheme(scheme_of(principal))
    return principal


def check_any_role(principal: Principal, roles: Sequence[str]) -> Principal:
    """``principal`` if it holds at least one of ``roles``.

    Raises:
        InsufficientScope: it holds none of them (403).
    """
    if not principal.has_any_role(roles):
        raise InsufficientScope(
            f"requires one of the roles {', '.join(roles)}", check=Check.REQUIRED_ROLE
        ).with_scheme(scheme_of(principal))
    return principal
