"""Configuration of the resource server, read from ``OIDC_*`` environment variables."""

from __future__ import annotations

import ipaddress
import json
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ._htu import normalise_url
from ._jws import SUPPORTED_ALGORITHMS
from ._list_setting import parse_list_setting
from ._profiles import (
    OPTIONAL_RFC9068_CLAIMS,
    PROFILES,
    TYP_ABSENT,
    Provider,
    ProviderProfile,
    TrustedIssuer,
    normalise_typ,
)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AuthMode(StrEnum):
    """How requests are authenticated.

    ``verify`` is the only mode for real deployments. The other two exist for local
    development without an identity provider and refuse to start in production.
    """

    VERIFY = "verify"
    DECODE_ONLY = "decode_only"  # claims are read, the signature is NOT checked
    STATIC = "static"  # every request is the fixed identity below, token or not


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > 255:
        raise ValueError("must be at most 255 characters")
    parts = urlsplit(value)
    try:
        normalise_url(value)  # printable ASCII, http(s), authority host[:port]
    except ValueError:
        raise ValueError("must be an absolute http(s) URL whose authority is host[:port]") from None
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    return value


def _audiences(value: str | None) -> tuple[str, ...]:
    return tuple(value.split()) if value else ()


class IssuerSettings(BaseModel):
    """One entry of ``OIDC_ISSUERS``: a trusted issuer, its audience and its provider."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    issuer: str
    #: Space-separated; a token naming any one of them is for this API.
    audience: str = Field(min_length=1)
    provider: Provider = Field(default=Provider.KEYCLOAK, strict=False)
    discovery_uri: str | None = None

    @field_validator("issuer", "discovery_uri")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _http_url(value)


class AuthSettings(BaseSettings):
    """Every knob of the verifier. Unset optional values take the documented defaults."""

    model_config = SettingsConfigDict(env_prefix="OIDC_", frozen=True, extra="ignore")

    mode: AuthMode = AuthMode.VERIFY
    #: The exact ``iss`` of accepted tokens (compared as strings, RFC 9068 §4 step 3).
    issuer_uri: str | None = None
    #: The audiences this API answers to, space-separated: a token whose ``aud`` names
    #: any one of them is for this API (RFC 9068 §4 step 4).
    audience: str | None = None
    #: Where to fetch discovery from when it differs from ``{issuer}/.well-known/...``
    #: (a container reaching the IdP by another host name). The document's ``issuer``
    #: must still equal ``issuer_uri``.
    discovery_uri: str | None = None
    #: Several trusted issuers (a JSON list of ``{"issuer", "audience", "provider",
    #: "discovery_uri"}``), instead of ``issuer_uri``/``audience``/``discovery_uri``.
    issuers: Annotated[tuple[IssuerSettings, ...], NoDecode] = ()
    #: ``realm`` attribute of ``WWW-Authenticate`` challenges; none when unset.
    realm: str | None = None

    algorithms: Annotated[tuple[str, ...], NoDecode] = SUPPORTED_ALGORITHMS
    leeway_seconds: int = Field(default=30, ge=0, le=300)

    #: Whose token shapes the five settings below default to (``auth/_profiles.py``).
    provider: Provider = Provider.KEYCLOAK
    #: Header ``typ`` values accepted (``at+jwt``, ``jwt``, ``absent`` for none). ID,
    #: logout and refresh tokens and DPoP proofs are refused whatever this says.
    accepted_typ: Annotated[tuple[str, ...] | None, NoDecode] = None
    #: Which of the RFC 9068 claims ``jti`` and ``client_id`` a token must carry.
    required_claims: Annotated[tuple[str, ...] | None, NoDecode] = None
    #: Claims holding the client id, first present wins: ``client_id``, ``azp``,
    #: ``cid``, ``appid``.
    client_id_claims: Annotated[tuple[str, ...] | None, NoDecode] = None
    #: Claims holding scopes: a space-separated string or a list of strings.
    scope_claims: Annotated[tuple[str, ...] | None, NoDecode] = None
    #: JSON Pointers (RFC 6901) to lists of role names, or to objects whose keys are
    #: role names. ``{audience}`` stands for each configured audience.
    role_claims: Annotated[tuple[str, ...] | None, NoDecode] = None
    groups_claim: str = "/groups"

    http_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    jwks_min_ttl_seconds: int = Field(default=60, ge=1)
    jwks_max_ttl_seconds: int = Field(default=86_400, ge=1)
    jwks_default_ttl_seconds: int = Field(default=600, ge=1)
    #: At most one unknown-``kid`` refetch per this many seconds; unknown kids are
    #: remembered for as long.
    jwks_refetch_cooldown_seconds: int = Field(default=10, ge=1, le=60)

    #: Verified tokens kept (0: none); bench/README.md measures what an entry weighs.
    token_cache_max_entries: int = Field(default=20_000, ge=0)

    #: Refuse tokens that are not DPoP-bound (the ``Bearer`` scheme), and say so in the
    #: RFC 9728 metadata (``dpop_bound_access_tokens_required``).
    dpop_required: bool = False
    dpop_max_age_seconds: int = Field(default=60, ge=1, le=600)
    dpop_nonce: bool = False
    dpop_nonce_secret: SecretStr | None = None
    dpop_nonce_lifetime_seconds: int = Field(default=300, ge=10, le=3600)
    replay_max_entries: int = Field(default=1_000_000, ge=1_000)

    #: Public base URL of this API (``https://api.example``). When set, the expected
    #: DPoP ``htu`` is built from it instead of the request's Host header.
    public_url: str | None = None
    #: Peers whose ``Forwarded`` / ``X-Forwarded-*`` headers are believed. Empty: none.
    trusted_proxies: Annotated[tuple[IpNetwork, ...], NoDecode] = ()

    #: RFC 9728 metadata: the scopes a client requests for this API (none by default),
    #: a human-readable name (else the application's title) and the URL of the API's
    #: documentation (absolute, or a path on this API).
    scopes_supported: Annotated[tuple[str, ...], NoDecode] = ()
    resource_name: str | None = None
    resource_documentation: str | None = None

    static_subject: str = "dev-user"
    static_name: str = "Development User"
    static_email: str = "dev-user@example.invalid"
    static_roles: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator(
        "algorithms",
        "accepted_typ",
        "required_claims",
        "client_id_claims",
        "scope_claims",
        "role_claims",
        "static_roles",
        "trusted_proxies",
        "scopes_supported",
        mode="before",
    )
    @classmethod
    def _words(cls, value: object) -> object:
        return parse_list_setting(value)

    @field_validator("issuers", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("accepted_typ")
    @classmethod
    def _typ_values(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        normalised = tuple(normalise_typ(typ) for typ in value)
        # Only the access-token types: a proof's, a logout token's or any other type a
        # provider gives its other JWTs is never accepted (auth.token_kind).
        if not normalised or not set(normalised) <= {"at+jwt", "jwt", TYP_ABSENT}:
            raise ValueError(f"OIDC_ACCEPTED_TYP may list at+jwt, jwt and {TYP_ABSENT}")
        return normalised

    @field_validator("required_claims")
    @classmethod
    def _known_claims(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not set(value) <= set(OPTIONAL_RFC9068_CLAIMS):
            raise ValueError("OIDC_REQUIRED_CLAIMS may only list jti and client_id")
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [alg for alg in value if alg not in SUPPORTED_ALGORITHMS]
        if unknown or not value:
            raise ValueError(
                f"OIDC_ALGORITHMS must be a non-empty subset of {' '.join(SUPPORTED_ALGORITHMS)}"
            )
        return value

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _networks(cls, value: tuple[IpNetwork, ...]) -> tuple[IpNetwork, ...]:
        return tuple(ipaddress.ip_network(str(net), strict=False) for net in value)

    @field_validator("issuer_uri", "discovery_uri", "public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _http_url(value)

    @model_validator(mode="after")
    def _coherent(self) -> AuthSettings:
        if self.jwks_min_ttl_seconds > self.jwks_max_ttl_seconds:
            raise ValueError("OIDC_JWKS_MIN_TTL_SECONDS exceeds OIDC_JWKS_MAX_TTL_SECONDS")
        if self.issuers and (self.issuer_uri or self.audience or self.discovery_uri):
            raise ValueError(
                "set either OIDC_ISSUERS or OIDC_ISSUER_URI/OIDC_AUDIENCE/OIDC_DISCOVERY_URI"
            )
        names = [entry.issuer for entry in self.issuers]
        if len(names) != len(set(names)):
            raise ValueError("OIDC_ISSUERS names an issuer twice")
        return self

    def profile(self, provider: Provider | None = None) -> ProviderProfile:
        """The token-shape settings for ``provider`` (default: ``OIDC_PROVIDER``): its
        profile's defaults, overridden by every shape setting given explicitly."""
        defaults = PROFILES[provider or self.provider]
        return ProviderProfile(
            accepted_typ=self.accepted_typ or defaults.accepted_typ,
            required_claims=(
                defaults.required_claims if self.required_claims is None else self.required_claims
            ),
            client_id_claims=self.client_id_claims or defaults.client_id_claims,
            scope_claims=self.scope_claims or defaults.scope_claims,
            role_claims=defaults.role_claims if self.role_claims is None else self.role_claims,
        )

    def trusted_issuers(self) -> tuple[TrustedIssuer, ...]:
        """Every issuer this API trusts, each with its audiences and token shapes:
        ``OIDC_ISSUERS``, or the single ``OIDC_ISSUER_URI`` (empty when neither is set)."""
        if self.issuers:
            return tuple(
                TrustedIssuer.build(
                    issuer=entry.issuer,
                    audiences=_audiences(entry.audience),
                    provider=entry.provider,
                    profile=self.profile(entry.provider),
                    discovery_uri=entry.discovery_uri,
                )
                for entry in self.issuers
            )
        if not self.issuer_uri or not self.audience:
            return ()
        return (
            TrustedIssuer.build(
                issuer=self.issuer_uri,
                audiences=_audiences(self.audience),
                provider=self.provider,
                profile=self.profile(),
                discovery_uri=self.discovery_uri,
            ),
        )
