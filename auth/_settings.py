"""Configuration of the resource server, read from ``OIDC_*`` environment variables."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ._claim_paths import parse_claim_reference
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
from ._tenants import check_template

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The five token-shape settings of a provider profile (``ProviderProfile``), which both
#: ``AuthSettings`` and an ``OIDC_ISSUERS`` entry may override.
_SHAPE_SETTINGS = (
    "accepted_typ",
    "required_claims",
    "client_id_claims",
    "scope_claims",
    "role_claims",
)

#: Shape settings for which an explicit empty list means "none" rather than "unset".
_EMPTY_IS_A_VALUE = frozenset({"required_claims", "role_claims"})


class AuthMode(StrEnum):
    """How requests are authenticated.

    ``verify`` is the only mode for real deployments. The other two exist for local
    development without an identity provider and refuse to start in production.
    """

    VERIFY = "verify"
    DECODE_ONLY = "decode_only"  # claims are read, the signature is NOT checked
    STATIC = "static"  # every request is the fixed identity below, token or not


def _http_url(value: str) -> str:
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


def _typ_values(value: tuple[str, ...]) -> tuple[str, ...]:
    normalised = tuple(normalise_typ(typ) for typ in value)
    # Only the access-token types: a proof's, a logout token's or any other type a
    # provider gives its other JWTs is never accepted (auth._token_kind).
    if not normalised or not set(normalised) <= {"at+jwt", "jwt", TYP_ABSENT}:
        raise ValueError(f"may list at+jwt, jwt and {TYP_ABSENT}")
    return normalised


def _known_claims(value: tuple[str, ...]) -> tuple[str, ...]:
    if not set(value) <= set(OPTIONAL_RFC9068_CLAIMS):
        raise ValueError("may only list jti and client_id")
    return value


def _claim_references(value: tuple[str, ...]) -> tuple[str, ...]:
    # Each a claim name, a dotted path or a JSON Pointer (auth._claim_paths).
    return tuple(parse_claim_reference(item) for item in value)


# One type a setting that both ``AuthSettings`` and an ``OIDC_ISSUERS`` entry carry, so
# the two check it the same way. A ``None`` (unset) is never checked.
HttpUrl = Annotated[str, AfterValidator(_http_url)]
AcceptedTyp = Annotated[tuple[str, ...], AfterValidator(_typ_values)]
RequiredClaims = Annotated[tuple[str, ...], AfterValidator(_known_claims)]
ClaimReferences = Annotated[tuple[str, ...], AfterValidator(_claim_references)]


class IssuerSettings(BaseModel):
    """One entry of ``OIDC_ISSUERS``: a trusted issuer, its audience and its provider,
    and, optionally, its own values of the provider profile's five settings (which win
    over ``OIDC_ACCEPTED_TYP``... and the profile) and its tenants."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    #: The exact ``iss``; or a template with ``{tenantid}`` (then ``tenants`` is needed).
    issuer: HttpUrl
    #: Space-separated; a token naming any one of them is for this API.
    audience: str = Field(min_length=1)
    provider: Provider = Field(default=Provider.KEYCLOAK, strict=False)
    discovery_uri: HttpUrl | None = None
    accepted_typ: AcceptedTyp | None = None
    required_claims: RequiredClaims | None = None
    client_id_claims: tuple[str, ...] | None = None
    scope_claims: ClaimReferences | None = None
    role_claims: ClaimReferences | None = None
    #: The tenant ids a templated issuer accepts, or ``["*"]`` for any tenant.
    tenants: tuple[str, ...] | None = None

    @field_validator(*_SHAPE_SETTINGS, "tenants", mode="before")
    @classmethod
    def _words(cls, value: object) -> object:
        words = parse_list_setting(value)
        return tuple(words) if isinstance(words, list) else words

    @model_validator(mode="after")
    def _tenant_template(self) -> IssuerSettings:
        check_template(self.issuer, self.discovery_uri, self.tenants)
        return self


class AuthSettings(BaseSettings):
    """Every knob of the verifier. Unset optional values take the documented defaults."""

    model_config = SettingsConfigDict(env_prefix="OIDC_", frozen=True, extra="ignore")

    mode: AuthMode = AuthMode.VERIFY
    #: The exact ``iss`` of accepted tokens (compared as strings, RFC 9068 §4 step 3).
    issuer_uri: HttpUrl | None = None
    #: The audiences this API answers to, space-separated: a token whose ``aud`` names
    #: any one of them is for this API (RFC 9068 §4 step 4).
    audience: str | None = None
    #: Where to fetch discovery from when it differs from ``{issuer}/.well-known/...``
    #: (a container reaching the IdP by another host name). The document's ``issuer``
    #: must still equal ``issuer_uri``.
    discovery_uri: HttpUrl | None = None
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
    accepted_typ: Annotated[AcceptedTyp | None, NoDecode] = None
    #: Which of the RFC 9068 claims ``jti`` and ``client_id`` a token must carry.
    required_claims: Annotated[RequiredClaims | None, NoDecode] = None
    #: Claims holding the client id, first present wins: ``client_id``, ``azp``,
    #: ``cid``, ``appid``.
    client_id_claims: Annotated[tuple[str, ...] | None, NoDecode] = None
    #: Claims holding scopes: a space-separated string or a list of strings. Each a
    #: claim name, a dotted path or a JSON Pointer (``auth._claim_paths``).
    scope_claims: Annotated[ClaimReferences | None, NoDecode] = None
    #: Claims holding lists of role names, or objects whose keys are role names; named
    #: as scope claims are. ``{audience}`` stands for each configured audience.
    role_claims: Annotated[ClaimReferences | None, NoDecode] = None
    groups_claim: str = "groups"

    #: The tenant ids accepted when ``OIDC_ISSUER_URI`` is a template with ``{tenantid}``
    #: (``https://login.microsoftonline.com/{tenantid}/v2.0``), or ``*`` for any.
    tenants: Annotated[tuple[str, ...] | None, NoDecode] = None
    #: Tenants whose discovery and keys are kept at once (least recently used dropped).
    max_tenants: int = Field(default=100, ge=1, le=10_000)

    #: What start-up does when the identity provider answers but its answer can never
    #: work (discovery 404, an issuer mismatch, a JWKS with no usable key): ``stop`` with
    #: one sentence naming the setting to fix, or ``retry`` (start, report not ready,
    #: retry in the background until it is fixed). Unset: stop in production.
    if_misconfigured: Literal["stop", "retry"] | None = None

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
    public_url: HttpUrl | None = None
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
        *_SHAPE_SETTINGS,
        "static_roles",
        "trusted_proxies",
        "scopes_supported",
        "tenants",
        mode="before",
    )
    @classmethod
    def _words(cls, value: object) -> object:
        return parse_list_setting(value)

    @field_validator("groups_claim")
    @classmethod
    def _group_claim(cls, value: str) -> str:
        return parse_claim_reference(value)

    @field_validator("issuers", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"must be a JSON list of objects ({exc})") from None

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [alg for alg in value if alg not in SUPPORTED_ALGORITHMS]
        if unknown or not value:
            raise ValueError(f"must be a non-empty subset of {' '.join(SUPPORTED_ALGORITHMS)}")
        return value

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _networks(cls, value: tuple[IpNetwork, ...]) -> tuple[IpNetwork, ...]:
        return tuple(ipaddress.ip_network(str(net), strict=False) for net in value)

    @model_validator(mode="after")
    def _coherent(self) -> AuthSettings:
        if self.jwks_min_ttl_seconds > self.jwks_max_ttl_seconds:
            raise ValueError("OIDC_JWKS_MIN_TTL_SECONDS exceeds OIDC_JWKS_MAX_TTL_SECONDS")
        if self.issuers and (self.issuer_uri or self.audience or self.discovery_uri):
            raise ValueError(
                "set either OIDC_ISSUERS or OIDC_ISSUER_URI/OIDC_AUDIENCE/OIDC_DISCOVERY_URI"
            )
        if self.issuers and self.tenants is not None:
            raise ValueError(
                "OIDC_TENANTS is for OIDC_ISSUER_URI: give each OIDC_ISSUERS entry its own tenants"
            )
        names = [entry.issuer for entry in self.issuers]
        if len(names) != len(set(names)):
            raise ValueError("OIDC_ISSUERS names an issuer twice")
        if self.issuer_uri is not None:
            try:
                check_template(self.issuer_uri, self.discovery_uri, self.tenants)
            except ValueError as exc:
                raise ValueError(f"OIDC_ISSUER_URI: {exc}") from None
        return self

    def profile(
        self, provider: Provider | None = None, entry: IssuerSettings | None = None
    ) -> ProviderProfile:
        """The token-shape settings for ``provider`` (default: ``OIDC_PROVIDER``): its
        profile's defaults, overridden by every shape setting given explicitly, and those
        by the values an ``OIDC_ISSUERS`` entry gives for itself."""
        defaults = PROFILES[provider or self.provider]

        def chosen(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
            # An explicit empty list is a value (required_claims "" requires nothing).
            for source in (entry, self):
                value: tuple[str, ...] | None = getattr(source, name, None)
                if value is not None and (value or name in _EMPTY_IS_A_VALUE):
                    return value
            return default

        shapes: dict[str, Any] = {
            name: chosen(name, getattr(defaults, name)) for name in _SHAPE_SETTINGS
        }
        return replace(defaults, **shapes)

    def trusted_issuers(self) -> tuple[TrustedIssuer, ...]:
        """Every issuer this API trusts, each with its audiences and token shapes:
        ``OIDC_ISSUERS``, or the single ``OIDC_ISSUER_URI`` (empty when neither is set)."""
        if self.issuers:
            return tuple(
                TrustedIssuer.build(
                    issuer=entry.issuer,
                    audiences=_audiences(entry.audience),
                    provider=entry.provider,
                    profile=self.profile(entry.provider, entry),
                    discovery_uri=entry.discovery_uri,
                    tenants=entry.tenants or (),
                    source=f"the OIDC_ISSUERS entry of {entry.issuer}",
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
                tenants=self.tenants or (),
                source="OIDC_ISSUER_URI",
            ),
        )
