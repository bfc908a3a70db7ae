"""Building the authenticator that ``OIDC_MODE`` asks for, and refusing unsafe setups."""

from __future__ import annotations

import httpx

from ._development import DecodeOnlyAuthenticator, StaticIdentityAuthenticator
from ._errors import ConfigurationError
from ._jwks import JwksCache
from ._replay import MemoryReplayStore, ReplayStore
from ._settings import AuthMode, AuthSettings
from ._verifier import Authenticator, TokenVerifier


def check_settings(settings: AuthSettings, *, production: bool) -> None:
    """Refuse unsafe or incomplete configurations with one clear sentence.

    Raises:
        ConfigurationError: a development mode in production, or the issuer or
            audience missing in ``verify`` mode.
    """
    if settings.mode is not AuthMode.VERIFY and production:
        raise ConfigurationError(
            f"OIDC_MODE={settings.mode.value} does not authenticate anyone and refuses "
            "to run with APP_ENV=production; set OIDC_MODE=verify."
        )
    if settings.mode is AuthMode.VERIFY and not settings.trusted_issuers():
        raise ConfigurationError(
            "OIDC_ISSUER_URI and OIDC_AUDIENCE (or OIDC_ISSUERS) must be set to verify "
            "access tokens (or choose a development mode with OIDC_MODE=static)."
        )


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
    # One key set per trusted issuer, each fetched from that issuer's configured
    # discovery document only.
    keys = {
        trusted.issuer: JwksCache(
            client=http_client,
            issuer=trusted.issuer,
            discovery_uri=trusted.discovery_uri,
            min_ttl=settings.jwks_min_ttl_seconds,
            max_ttl=settings.jwks_max_ttl_seconds,
            default_ttl=settings.jwks_default_ttl_seconds,
            refetch_cooldown=settings.jwks_refetch_cooldown_seconds,
        )
        for trusted in settings.trusted_issuers()
    }
    if replay is None:  # not "replay or ...": an empty MemoryReplayStore is falsy
        replay = MemoryReplayStore(max_entries=settings.replay_max_entries)
    return TokenVerifier(settings, keys=keys, replay=replay)
