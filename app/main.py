"""The application factory: ``uvicorn app.main:app`` or ``python -m app``.

The lifespan opens the services (``app.services``: database, authenticator, replay store,
event broker) from the settings the application was created with, and closes them on
the way out.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.body_limit import BodySizeLimit
from app.errors import install_error_handlers
from app.live import Clock
from app.openapi import install_openapi
from app.routes import admin, health, live, me, todos
from app.security import oidc
from app.services import open_services
from app.settings import AppSettings, TodoAuthSettings
from auth import AuthSettings, install_token_redaction
from auth.fastapi import install_auth_error_handler, install_error_handler
from auth.host_guard import HostGuard

EXPOSED_HEADERS = ["WWW-Authenticate", "DPoP-Nonce", "ETag", "Location", "Retry-After"]


def create_app(
    settings: AppSettings | None = None,
    auth_settings: AuthSettings | None = None,
    *,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the API. Settings default to the environment; ``clock`` to the system's."""
    app_settings = settings or AppSettings()
    identity_settings = auth_settings or TodoAuthSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(app_settings, identity_settings, clock=clock) as services:
            app.state.services = services
            try:
                yield
            finally:
                del app.state.services

    app = FastAPI(
        title="TODO API",
        summary="Per-user todos behind OIDC access tokens (RFC 9068), Bearer or DPoP (RFC 9449).",
        version="0.1.0",
        lifespan=lifespan,
        # Starlette answers "/api/todos/" with a redirect to an absolute URL built from
        # the Host header (an open redirect for a foreign Host): paths are exact instead.
        redirect_slashes=False,
    )
    routers = (health.router, me.router, todos.router, admin.router, live.router)
    install_error_handlers(app, routers=routers)
    install_error_handler(app)
    install_auth_error_handler(app, oidc)  # AuthErrors the application raises itself
    install_openapi(app, app_settings)
    for router in routers:
        app.include_router(router)
    # Added first, so it sits inside CORS: a 413 still carries the CORS headers the SPA
    # needs to read it (outside CORS it would reach the browser as a CORS failure).
    app.add_middleware(BodySizeLimit, max_bytes=app_settings.max_request_body_bytes)
    # Before any routing or authentication: a Host that is not host[:port] is a 400
    # (RFC 9112 §3.2), so nothing downstream builds a URL from it.
    app.add_middleware(HostGuard, trusted_proxies=identity_settings.trusted_proxies)
    if app_settings.cors_origins:  # without origins to allow, the middleware is pure cost
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(app_settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "DPoP", "Content-Type", "If-Match"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    # Here and only here: whoever serves the app (python -m app, uvicorn, a test server)
    # gets tokens redacted from uvicorn's logs.
    install_token_redaction()
    return app


app = create_app()
