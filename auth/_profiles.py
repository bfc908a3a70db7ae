"""Provider profiles: documented defaults for how each identity provider shapes its tokens.

RFC 9068 fixes the shape of a JWT access token (header ``typ: at+jwt``; ``jti`` and
``client_id`` required; scopes in a ``scope`` string), but most providers predate it or
follow it partly. A profile is nothing but defaults for five explicit settings, each of
which also exists on its own (``OIDC_ACCEPTED_TYP``, ``OIDC_REQUIRED_CLAIMS``,
``OIDC_CLIENT_ID_CLAIMS``, ``OIDC_SCOPE_CLAIMS``, ``OIDC_ROLE_CLAIMS``): a setting given
explicitly always wins over the profile's value.

The token shapes behind each profile, with their sources, are in ``auth/README.md``
("Providers") and in ``tests/auth/test_provider_tokens.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ._claim_paths import expand_audience

#: What stands for the tenant id in a multi-tenant issuer (Entra ID's own spelling).
TENANT_PLACEHOLDER = "{tenantid}"
#: The pseudo ``typ`` value meaning "the header has no ``typ``".
TYP_ABSENT = "absent"
#: Claims RFC 9068 §2.2 requires that some providers leave out (``iss``, ``aud``, ``exp``,
#: ``iat`` and ``sub`` are required whatever the profile).
OPTIONAL_RFC9068_CLAIMS = ("jti", "client_id")


class Provider(StrEnum):
    """``OIDC_PROVIDER``: whose token shapes the defaults follow."""

    KEYCLOAK = "keycloak"
    AUTH0 = "auth0"
    ENTRA = "entra"
    OKTA = "okta"
    ZITADEL = "zitadel"
    AUTHENTIK = "authentik"
    GENERIC = "generic"


@dataclass(frozen=True, slots=True)
class IdClaimsInAccessTokens:
    """Claims of ID tokens (``nonce``, ``auth_time``, ``sid``) that a provider documents
    in its access tokens too, and ``marker``, a claim only its access tokens carry:
    without the marker, those claims still say "ID token" (``auth._token_kind``)."""

    claims: frozenset[str]
    marker: str

    def permits(self, present: list[str], payload: Mapping[str, Any]) -> bool:
        return self.marker in payload and all(name in self.claims for name in present)


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """Defaults of the five token-shape settings for one provider."""

    #: Header ``typ`` values accepted, lower-case; ``absent`` for no ``typ`` at all.
    accepted_typ: tuple[str, ...]
    #: Which of ``jti`` and ``client_id`` must be present.
    required_claims: tuple[str, ...]
    #: Where the client id is read from, first present wins (``client_id`` and its aliases).
    client_id_claims: tuple[str, ...]
    #: Where scopes are read from: ``scope`` (a space-separated string), ``scp`` (a
    #: string or a list), or another claim of either shape.
    scope_claims: tuple[str, ...]
    #: Where role lists are, or objects whose keys are role names: claim names or JSON
    #: Pointers (``auth._claim_paths``); ``{audience}`` stands for each configured audience.
    role_claims: tuple[str, ...]
    #: ID-token claims the provider's documentation shows in its access tokens (the page
    #: is cited beside the profile); None: any of them marks an ID token.
    id_claims_in_access_tokens: IdClaimsInAccessTokens | None = None


_STRICT = ("at+jwt",)
_RELAXED = ("at+jwt", "jwt", TYP_ABSENT)
_ALL_CLIENT_ID_CLAIMS = ("client_id", "azp", "cid", "appid")

PROFILES: dict[Provider, ProviderProfile] = {
    # RFC 9068 as written, once the realm or client turns on "at+jwt" headers
    # (client attribute access.token.header.type.rfc9068); roles as Keycloak puts them.
    Provider.KEYCLOAK: ProviderProfile(
        accepted_typ=_STRICT,
        required_claims=OPTIONAL_RFC9068_CLAIMS,
        client_id_claims=("client_id", "azp"),
        scope_claims=("scope",),
        role_claims=("/realm_access/roles", "/resource_access/{audience}/roles"),
        # Keycloak's access tokens carry the session's sid and auth_time (its AccessToken
        # extends IDToken: org.keycloak.representations.AccessToken), and say what they
        # are in the payload's typ: "Bearer" or "DPoP", where its ID tokens say "ID"
        # (org.keycloak.util.TokenUtil). Keycloak 25 and later put nonce in ID tokens
        # only (https://www.keycloak.org/docs/latest/upgrading/, "Nonce claim is only
        # added to the ID token"). Only matters when OIDC_ACCEPTED_TYP allows typ JWT.
        id_claims_in_access_tokens=IdClaimsInAccessTokens(
            frozenset({"auth_time", "sid"}), marker="typ"
        ),
    ),
    # Auth0's default "Auth0" token profile: typ JWT, no jti, no client_id (azp); RBAC
    # permissions in "permissions". Its "RFC 9068" profile passes this one too.
    Provider.AUTH0: ProviderProfile(
        accepted_typ=("at+jwt", "jwt"),
        required_claims=("client_id",),
        client_id_claims=("client_id", "azp"),
        scope_claims=("scope", "permissions"),
        role_claims=(),
    ),
    # Entra ID v1 and v2: typ JWT, no jti (uti instead), appid (v1) or azp (v2), scp
    # as a space-separated string, app roles in "roles".
    Provider.ENTRA: ProviderProfile(
        accepted_typ=("jwt",),
        required_claims=("client_id",),
        client_id_claims=("azp", "appid"),
        scope_claims=("scp",),
        role_claims=("/roles",),
    ),
    # Okta's custom authorization servers: no typ, cid, scp as a list; groups when a
    # groups claim is configured.
    Provider.OKTA: ProviderProfile(
        accepted_typ=(TYP_ABSENT, "at+jwt", "jwt"),
        required_claims=OPTIONAL_RFC9068_CLAIMS,
        client_id_claims=("cid", "client_id"),
        scope_claims=("scp", "scope"),
        role_claims=("/groups",),
        # Okta's access tokens carry auth_time, and its ID tokens never carry cid
        # (https://developer.okta.com/docs/api/openapi/okta-oauth/guides/overview/,
        # "Access token" and "ID token" payloads).
        id_claims_in_access_tokens=IdClaimsInAccessTokens(frozenset({"auth_time"}), marker="cid"),
    ),
    # Zitadel's JWT access tokens: no typ; project roles as an object keyed by role.
    Provider.ZITADEL: ProviderProfile(
        accepted_typ=(TYP_ABSENT, "at+jwt", "jwt"),
        required_claims=OPTIONAL_RFC9068_CLAIMS,
        client_id_claims=("client_id", "azp"),
        scope_claims=("scope",),
        role_claims=("/urn:zitadel:iam:org:project:roles",),
    ),
    # authentik's OAuth2 provider: typ JWT, azp, no jti; groups through its profile scope.
    Provider.AUTHENTIK: ProviderProfile(
        accepted_typ=("jwt", "at+jwt"),
        required_claims=("client_id",),
        client_id_claims=("azp", "client_id"),
        scope_claims=("scope",),
        role_claims=("/groups",),
        # authentik writes its access token from the ID token's claims (nonce, auth_time,
        # sid included) and adds azp and uid, which its ID tokens never carry
        # (https://docs.goauthentik.io/add-secure-apps/providers/oauth2/, "JWT access
        # tokens"; IDToken.to_access_token in authentik/providers/oauth2/id_token.py).
        id_claims_in_access_tokens=IdClaimsInAccessTokens(
            frozenset({"auth_time", "sid", "nonce"}), marker="uid"
        ),
    ),
    # Anything else: every typ but ID/logout/refresh tokens and proofs, every alias.
    Provider.GENERIC: ProviderProfile(
        accepted_typ=_RELAXED,
        required_claims=(),
        client_id_claims=_ALL_CLIENT_ID_CLAIMS,
        scope_claims=("scope", "scp"),
        role_claims=("/roles",),
    ),
}


def normalise_typ(value: str) -> str:
    """``typ`` as compared: lower-case, without the ``application/`` prefix that RFC 7515
    §4.1.9 says may be left out."""
    lowered = value.lower()
    return lowered.removeprefix("application/")


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An issuer this API trusts, resolved from the settings: where its keys are, which
    audiences name this API, and the token shapes its profile (and the explicit
    settings) accept. ``profile.role_claims`` has ``{audience}`` expanded.

    With ``tenants``, ``issuer`` and ``discovery_uri`` are templates holding
    ``{tenantid}`` (``auth._tenants``); ``for_tenant`` gives one tenant's issuer.
    """

    issuer: str
    audiences: tuple[str, ...]
    provider: Provider
    profile: ProviderProfile
    discovery_uri: str
    #: The tenant ids a template accepts (``*``: any); empty for a plain issuer.
    tenants: tuple[str, ...] = ()
    #: The setting that names this issuer, as error messages say it.
    source: str = "OIDC_ISSUER_URI"
    #: Whether ``discovery_uri`` was configured rather than derived from the issuer.
    discovery_configured: bool = False

    @property
    def is_template(self) -> bool:
        return bool(self.tenants)

    def for_tenant(self, tenant: str) -> TrustedIssuer:
        """The issuer of one tenant of this template (an allowed one: ``auth._tenants``)."""
        return replace(
            self,
            issuer=self.issuer.replace(TENANT_PLACEHOLDER, tenant),
            discovery_uri=self.discovery_uri.replace(TENANT_PLACEHOLDER, tenant),
            tenants=(),
        )

    @classmethod
    def build(
        cls,
        *,
        issuer: str,
        audiences: tuple[str, ...],
        provider: Provider,
        profile: ProviderProfile,
        discovery_uri: str | None,
        tenants: tuple[str, ...] = (),
        source: str = "OIDC_ISSUER_URI",
    ) -> TrustedIssuer:
        role_claims: list[str] = []
        for reference in profile.role_claims:
            expanded = (
                [expand_audience(reference, aud) for aud in audiences]
                if "{audience}" in reference
                else [reference]
            )
            role_claims.extend(p for p in expanded if p not in role_claims)
        return cls(
            issuer=issuer,
            audiences=audiences,
            provider=provider,
            profile=replace(profile, role_claims=tuple(role_claims)),
            discovery_uri=discovery_uri or issuer.rstrip("/") + "/.well-known/openid-configuration",
            tenants=tenants,
            source=source,
            discovery_configured=discovery_uri is not None,
        )
