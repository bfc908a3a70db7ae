"""The application's declaration of its authentication (``auth.fastapi.OIDCAuth``).

Routes declare it through ``app.api.deps`` (``CurrentPrincipal``, ``AdminPrincipal``);
it is a declaration only: each application's lifespan runs an authenticator for it, with
that application's settings, kept in that application (``oidc.running`` in
``app.services``), so two applications in one process each have their own. Tests
override it with ``auth.fastapi.testing.override_principal``.
"""

from __future__ import annotations

from auth.fastapi import OIDCAuth

oidc = OIDCAuth(description="OIDC access token (RFC 9068), from the realm's clients")
