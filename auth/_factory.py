"""Building the authenticator that ``OIDC_MODE`` asks for, and refusing unsafe setups."""

from __future__ import annotations

from functools import partial

import httpx

from ._development import DecodeOnlyAuthenticator, StaticIdentityAuthenticator
from ._errors import ConfigurationError
from ._issuer_health import explain
from ._jwks import JwksCache
from ._profiles import TrustedIssuer
from ._replay import MemoryReplayStore, ReplayStore
from ._settings import AuthMode, AuthSettings
from ._verifier import Authenticator, TokenVerifier


def _missing_issuer_settings(settings: AuthSettings) -> str:
    """Which of the settings naming the trusted issuer are missing, in one sentence."""
    missing = [
        name
        for name, value in (
            ("OIDC_ISSUER_URI", settings.issuer_uri),
            ("OIDC_AUDIENCE", settings.audience),
        )
        if not value
    ]
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"{' and '.join(missing)} {verb} not set: verifying access tokens needs the issuer "
        "they come from and the audience this API answers to (or OIDC_ISSUERS for several "
        "issuers; or OIDC_MODE=static for development)"
    )


def check_settings(settings: AuthSettings, *, production: bool) -> None:
    """Refuse unsafe or incomplete configurations with one clear sentence.

    Raises:
        ConfigurationError: a development mode in production, or the issuer or
            audience missing in ``verify`` mode.
    """
    if settings.mode is not AuthMode.VERIFY and production:
        raise ConfigurationError(
            f"OIDC_MODE={settings.mode.value} does not authenticate anyone and is refused in "
            "production: set OIDC_MODE=verify (development modes run only where the "
            "application says it is not in production)"
        )
    if settings.mode is AuthMode.VERIFY and not settings.trusted_issuers():
        raise ConfigurationError(_missing_issuer_settings(settings))


def stops_if_misconfigured(settings: AuthSettings, *, production: bool) -> bool:
    """``OIDC_IF_MISCONFIGURED``: stop by default in production, retry elsewhere."""
    if settings.if_misconfigured is None:
        return production
    return settings.if_misconfigured == "stop"


def create_authenticator(
    settings: AuthSettings,
    *,
    production: bool,
    http_client: httpx.AsyncClient,
    replay: ReplayStore | None = None,
) -> Authenticator:
    """The authenticator for ``settings.mode``.

    ``http_client`` is used for discovery and JWKS; its owner closes it.

    Raises:
        ConfigurationError: a development mode in production, or the issuer or
            audience missing in ``verify`` mode.
    """
    check_settings(settings, production=production)
    if settings.mode is AuthMode.DECODE_ONLY:
        return DecodeOnlyAuthenticator(settings)
    if settings.mode is AuthMode.STATIC:
        return StaticIdentityAuthenticator(settings)

    def key_set(trusted: TrustedIssuer) -> JwksCache:
        # Fetched from that issuer's configured discovery document only.
        return JwksCache(
            client=http_client,
            issuer=trusted.issuer,
            discovery_uri=trusted.discovery_uri,
            min_ttl=settings.jwks_min_ttl_seconds,
            max_ttl=settings.jwks_max_ttl_seconds,
            default_ttl=settings.jwks_default_ttl_seconds,
            refetch_cooldown=settings.jwks_refetch_cooldown_seconds,
            algorithms=settings.algorithms,
            explain=partial(explain, trusted),
        )

    keys = {
        trusted.issuer: key_set(trusted)
        for trusted in settings.trusted_issuers()
        if not trusted.is_template
    }
    if replay is None:  # not "replay or ...": an empty MemoryReplayStore is falsy
        replay = MemoryReplayStore(max_entries=settings.replay_max_entries)
    return TokenVerifier(
        settings,
        keys=keys,
        replay=replay,
        tenant_keys=key_set,
        stop_if_misconfigured=stops_if_misconfigured(settings, production=production),
    )
