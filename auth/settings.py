"""Configuration of the resource server, read from ``OIDC_*`` environment variables."""

from __future__ import annotations

import ipaddress
import json
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from auth.errors import ConfigurationError
from auth.htu import normalise_url
from auth.jws import SUPPORTED_ALGORITHMS

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AuthMode(StrEnum):
    """How requests are authenticated.

    ``verify`` is the only mode for real deployments. The other two exist for local
    development without an identity provider and refuse to start in production.
    """

    VERIFY = "verify"
    DECODE_ONLY = "decode_only"  # claims are read, the signature is NOT checked
    STATIC = "static"  # every request is the fixed identity below, token or not


def _split_words(value: object) -> object:
    """``"a b"``, ``"a,b"`` or a JSON array: list-valued variables are not JSON-decoded
    by pydantic-settings (``NoDecode``), so the array form is decoded here."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            return json.loads(value)  # a JSONDecodeError is a ValueError: a clear refusal
        return tuple(word for word in value.replace(",", " ").split() if word)
    return value


def _pointer_token(value: str) -> str:
    # RFC 6901 §3: "~" and "/" inside a reference token.
    return value.replace("~", "~0").replace("/", "~1")


class AuthSettings(BaseSettings):
    """Every knob of the verifier. Unset optional values take the documented defaults."""

    model_config = SettingsConfigDict(env_prefix="OIDC_", frozen=True, extra="ignore")

    mode: AuthMode = AuthMode.VERIFY
    #: The exact ``iss`` of accepted tokens (compared as strings, RFC 9068 §4 step 3).
    issuer_uri: str | None = None
    #: The audience this API must find in ``aud`` (RFC 9068 §4 step 4).
    audience: str | None = None
    #: Where to fetch discovery from when it differs from ``{issuer}/.well-known/...``
    #: (a container reaching the IdP by another host name). The document's ``issuer``
    #: must still equal ``issuer_uri``.
    discovery_uri: str | None = None
    #: ``realm`` attribute of ``WWW-Authenticate`` challenges.
    realm: str = "todo-api"

    algorithms: Annotated[tuple[str, ...], NoDecode] = SUPPORTED_ALGORITHMS
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    #: Accept header ``typ: JWT`` from providers that cannot emit ``at+jwt``.
    accept_jwt_typ: bool = False
    #: JSON Pointers (RFC 6901) to arrays of role names. ``{audience}`` is replaced by
    #: the configured audience (escaped as a reference token). Keycloak's realm and
    #: client roles by default.
    role_claims: Annotated[tuple[str, ...], NoDecode] = (
        "/realm_access/roles",
        "/resource_access/{audience}/roles",
    )
    groups_claim: str = "/groups"

    http_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    jwks_min_ttl_seconds: int = Field(default=60, ge=1)
    jwks_max_ttl_seconds: int = Field(default=86_400, ge=1)
    jwks_default_ttl_seconds: int = Field(default=600, ge=1)
    #: At most one unknown-``kid`` refetch per this many seconds; unknown kids are
    #: remembered for as long.
    jwks_refetch_cooldown_seconds: int = Field(default=10, ge=1, le=60)

    #: About 2.9 KB per entry with Keycloak-sized claims: 20,000 entries stay under 60 MB.
    token_cache_max_entries: int = Field(default=20_000, ge=0)

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

    static_subject: str = "dev-user"
    static_name: str = "Development User"
    static_email: str = "dev-user@example.invalid"
    static_roles: Annotated[tuple[str, ...], NoDecode] = ("todo-user", "todo-admin")

    @field_validator("algorithms", "role_claims", "static_roles", "trusted_proxies", mode="before")
    @classmethod
    def _words(cls, value: object) -> object:
        return _split_words(value)

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
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > 255:
            raise ValueError("must be at most 255 characters")
        parts = urlsplit(value)
        try:
            normalise_url(value)  # printable ASCII, http(s), authority host[:port]
        except ValueError:
            raise ValueError(
                "must be an absolute http(s) URL whose authority is host[:port]"
            ) from None
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> AuthSettings:
        if self.jwks_min_ttl_seconds > self.jwks_max_ttl_seconds:
            raise ValueError("OIDC_JWKS_MIN_TTL_SECONDS exceeds OIDC_JWKS_MAX_TTL_SECONDS")
        return self

    @property
    def resolved_discovery_uri(self) -> str:
        if self.discovery_uri:
            return self.discovery_uri
        if self.issuer_uri is None:
            raise ConfigurationError("OIDC_ISSUER_URI is not set.")
        return self.issuer_uri.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def resolved_role_claims(self) -> tuple[str, ...]:
        audience = _pointer_token(self.audience or "")
        return tuple(pointer.replace("{audience}", audience) for pointer in self.role_claims)
