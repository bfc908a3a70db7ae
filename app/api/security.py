"""The application's one authentication object (``auth.fastapi.OIDCAuth``).

Routes declare it through ``app.api.deps`` (``CurrentPrincipal``, ``AdminPrincipal``); the
lifespan starts it with the application's settings (``app.services``); tests override it
with ``auth.fastapi.testing.override_principal``.
"""

from __future__ import annotations

from auth.fastapi import OIDCAuth

oidc = OIDCAuth(description="OIDC access token (RFC 9068), from the realm's clients")
