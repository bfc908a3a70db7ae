"""The application factory: ``uvicorn app.main:app`` or ``python -m app``.

The lifespan opens the services (``app.services``: database, authenticator, replay store,
event broker) from the settings the application was created with, and closes them on
the way out; it also starts what the observability settings ask for (a metrics
listener, the discovery behind the login in ``/docs``).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import start_http_server

from app.api.body_limit import BodySizeLimit
from app.api.docs import install_docs
from app.api.errors import install_error_handlers, install_server_error_filter
from app.api.openapi import install_openapi
from app.api.resources import resource_router
from app.api.routes import (
    admin,
    health,
    live,  # feature: live
    me,
)
from app.api.routes.metrics import metrics_router
from app.api.security import oidc
from app.data.resources import RESOURCES
from app.events.connections import Clock  # feature: live
from app.observability.metrics import Metrics
from app.observability.refused_start import RefusedStartReport
from app.observability.requests import RequestObserver
from app.services import Services, open_services
from app.settings import AppSettings, load_settings
from auth import AuthSettings, HostGuard, install_token_redaction
from auth.fastapi import SwaggerLogin, install_auth_error_handler, install_error_handler

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from app.observability.tracing import Tracing

logger = logging.getLogger("app.settings")

EXPOSED_HEADERS = [
    "WWW-Authenticate",
    "DPoP-Nonce",
    "ETag",
    "Location",
    "Retry-After",
    "X-Request-ID",
]


def _tracing(settings: AppSettings, provider: TracerProvider | None) -> Tracing | None:
    """Traces when an OTLP endpoint is configured (or a provider given, by tests). The
    instrumentations are imported only then: they are heavy."""
    if provider is None and settings.otel_exporter_otlp_endpoint is None:
        return None
    from app.observability.tracing import Tracing, otlp_tracer_provider  # noqa: PLC0415

    if provider is None:
        provider = otlp_tracer_provider(
            settings.otel_exporter_otlp_endpoint or "", service_name=settings.otel_service_name
        )
    return Tracing(provider)


def include_routes(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes to ``app`` as its own. ``app.include_router`` (FastAPI
    0.165) keeps the router as a branch that every request walks again (its routes'
    version, a context per route tried): about 10 us per request here. A route is
    complete when its router makes it (prefix, tags, responses, dependencies), so
    nothing is lost while no include-time option is given."""
    app.router.routes.extend(router.routes)


def _subject_key(settings: AppSettings) -> bytes:
    """The HMAC key of the subjects in access lines: ``LOG_SUBJECT_KEY``, else a random
    key made for this process. Never none: an unkeyed hash of a guessable subject (an
    e-mail address, a sequential id) is recovered by hashing candidates. A process key
    keeps that safe by default; what it costs is that one user's lines match within one
    process only (not across instances or restarts), which production is told about."""
    if settings.log_subject_key is not None:
        return settings.log_subject_key.get_secret_value().encode()
    if settings.production and settings.log_subject == "hashed":
        logger.warning(
            "LOG_SUBJECT_KEY is not set: subjects in access lines are hashed with a key made "
            "for this process, so one user's lines match within this process only; set "
            "LOG_SUBJECT_KEY (32 random bytes, the same on every instance) to match them "
            "across instances and restarts"
        )
    return secrets.token_bytes(32)


def create_app(
    settings: AppSettings | None = None,
    auth_settings: AuthSettings | None = None,
    *,
    clock: Clock | None = None,  # feature: live
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the API. Settings default to the environment and ``.env``; ``clock`` (for the
    expiry of live sockets' tokens) to the system's; traces are on with
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` or a ``tracer_provider``.

    The parts, each a function below: the lifespan (``_lifespan``: services, then what
    observability asks for), the routes and their error answers (``_add_routes``), the
    middleware stack (``_add_middleware``)."""
    app_settings, identity_settings = _settings_or_environment(settings, auth_settings)
    metrics = Metrics() if app_settings.metrics != "off" else None
    login = _swagger_login(app_settings, identity_settings)
    tracing = _tracing(app_settings, tracer_provider)
    app = FastAPI(
        title="TODO API",
        summary="Per-user todos behind OIDC access tokens (RFC 9068), Bearer or DPoP (RFC 9449).",
        version="0.1.0",
        lifespan=_lifespan(
            app_settings,
            identity_settings,
            clock=clock,  # feature: live
            tracing=tracing,
            metrics=metrics,
            login=login,
        ),
        # Starlette answers "/api/todos/" with a redirect to an absolute URL built from
        # the Host header (an open redirect for a foreign Host): paths are exact instead.
        redirect_slashes=False,
        docs_url=None,  # served by app.docs, without a CDN
        redoc_url=None,
        # Traces come from app.observability.tracing (OpenTelemetry's FastAPI
        # instrumentation), when configured. FastAPI's own telemetry would be a second
        # path, and it checks for a configured provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    _add_routes(app, app_settings, metrics=metrics, login=login)
    _add_middleware(app, app_settings, identity_settings, metrics=metrics)
    if tracing is not None:
        tracing.instrument_app(app)
    # Here and only here: whoever serves the app (python -m app, uvicorn, a test server)
    # gets tokens redacted from uvicorn's logs.
    install_token_redaction()
    install_server_error_filter()  # an error's traceback once, not again from uvicorn
    return app


def _settings_or_environment(
    settings: AppSettings | None, auth_settings: AuthSettings | None
) -> tuple[AppSettings, AuthSettings]:
    """The settings given, the missing ones read from the environment and ``.env``."""
    if settings is not None and auth_settings is not None:
        return settings, auth_settings
    loaded, loaded_auth = load_settings()
    for notice in loaded.notices:
        logger.warning("%s", notice)
    return settings or loaded, auth_settings or loaded_auth


def _swagger_login(settings: AppSettings, auth_settings: AuthSettings) -> SwaggerLogin | None:
    """The "Authorize" button of ``/docs``, when a client is configured (``app.api.docs``)."""
    if not settings.oidc_swagger_client_id or not auth_settings.trusted_issuers():
        return None
    return SwaggerLogin(
        settings.oidc_swagger_client_id,
        settings.oidc_swagger_scopes,
        authorization_parameters=settings.oidc_swagger_authorization_params,
    )


Lifespan = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]


def _lifespan(
    settings: AppSettings,
    auth_settings: AuthSettings,
    *,
    clock: Clock | None,  # feature: live
    tracing: Tracing | None,
    metrics: Metrics | None,
    login: SwaggerLogin | None,
) -> Lifespan:
    """Open the services (``app.services``), then start what observability asks for;
    close everything in reverse order on the way out."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_services(
                app,
                settings,
                auth_settings,
                clock=clock,  # feature: live
                tracing=tracing,
            ) as services,
            contextlib.AsyncExitStack() as stack,
        ):
            app.state.services = services
            if metrics is not None:
                _watch_metrics(stack, metrics, services)
            if login is not None:
                await _discover_login(stack, login, services, app)
            if tracing is not None:
                stack.callback(tracing.shutdown)
            try:
                yield
            finally:
                del app.state.services

    return lifespan


def _watch_metrics(stack: contextlib.AsyncExitStack, metrics: Metrics, services: Services) -> None:
    """Collect the services' counters; with ``METRICS=port``, serve them on their own
    listener until the lifespan ends."""
    metrics.watch(services)
    stack.callback(metrics.unwatch)
    settings = services.settings
    if settings.metrics == "port":
        server, _ = start_http_server(
            settings.metrics_listen.port,
            addr=settings.metrics_listen.host,
            registry=metrics.registry,
        )
        stack.callback(server.server_close)
        stack.callback(server.shutdown)


async def _discover_login(
    stack: contextlib.AsyncExitStack, login: SwaggerLogin, services: Services, app: FastAPI
) -> None:
    """Read the login's endpoints from the first issuer's discovery, in the background."""
    if services.http_client is None:
        return
    first = services.auth_settings.trusted_issuers()[0]
    await stack.enter_async_context(
        login.discovering(services.http_client, first.discovery_uri, issuer=first.issuer, app=app)
    )


def _add_routes(
    app: FastAPI, settings: AppSettings, *, metrics: Metrics | None, login: SwaggerLogin | None
) -> None:
    """The routers, the error answers (every one a problem document), the RFC 9728
    metadata, the OpenAPI document and the documentation pages."""
    # FastAPI tries routes in the order they were added, and each route or router tried
    # before the matching one costs a measurable share of a small request (bench/README.md,
    # section 6): /api/me (one route, the most frequent request) first, then the data
    # routes, the documentation's last.
    resources = tuple(resource_router(resource) for resource in RESOURCES)
    routers = (
        me.router,
        *resources,
        health.router,
        admin.router,
        live.router,  # feature: live
    )
    install_error_handlers(app, routers=routers)
    install_error_handler(app)
    install_auth_error_handler(app, oidc)  # AuthErrors the application raises itself
    for router in routers:
        include_routes(app, router)
    oidc.serve_resource_metadata(app)  # RFC 9728, pointed at by every challenge
    install_openapi(app, settings, login=login)
    install_docs(app, login=login)
    if metrics is not None and settings.metrics == "admin":
        include_routes(app, metrics_router(metrics))


def _add_middleware(
    app: FastAPI, settings: AppSettings, auth_settings: AuthSettings, *, metrics: Metrics | None
) -> None:
    """The middleware stack; each added wraps the ones before (the last added runs first)."""
    # Added first, so it sits inside CORS: a 413 still carries the CORS headers the SPA
    # needs to read it (outside CORS it would reach the browser as a CORS failure).
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_body_bytes)
    # Before any routing or authentication: a Host that is not host[:port] is a 400
    # (RFC 9112 §3.2), so nothing downstream builds a URL from it.
    app.add_middleware(HostGuard, trusted_proxies=auth_settings.trusted_proxies)
    # Outside the Host guard, so its 400s are logged and counted too.
    app.add_middleware(
        RequestObserver,
        trusted_proxies=auth_settings.trusted_proxies,
        access_log=settings.api_access_log,
        subject=settings.log_subject,
        subject_key=_subject_key(settings),
        metrics=metrics,
    )
    if settings.cors_origins:  # without origins to allow, the middleware is pure cost
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "DPoP", "Content-Type", "If-Match"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    # Outermost: it sees the lifespan's failure as the server will.
    app.add_middleware(RefusedStartReport)


#: Said at start-up when the application is served by a bare ``uvicorn app.main:app``:
#: what ``python -m app`` (``app.server``) adds that this path does not have.
WITHOUT_PYTHON_M_APP = (
    "served by `uvicorn app.main:app`, not `python -m app`: no request-head limits "
    "(431/414/408), no connection cap, no share of connections per client, no send "
    "deadline (a client that never reads holds its connection for ever), h11 and "
    "httptools not held to the same refusals, no WebSocket frame limit (1009) nor quiet "
    "1007, no 1001 for live sockets at shutdown, no GC tuning, and uvicorn trusts "
    "X-Forwarded-* from 127.0.0.1 unless --no-proxy-headers (it changes the URL DPoP "
    "proofs are checked against). Use `python -m app`, or put a proxy with the same "
    "limits in front (docs/limits.md, 'Behind a reverse proxy')."
)


def __getattr__(name: str) -> FastAPI:
    """``app``: the application built from the environment and ``.env`` on first use
    (``uvicorn app.main:app``), so that importing this module builds nothing
    (``python -m app`` builds its own, after reporting a bad setting in one sentence).
    Served this way, it says at start-up what it lacks (``WITHOUT_PYTHON_M_APP``)."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    application = create_app()
    logging.getLogger("uvicorn.error").warning(WITHOUT_PYTHON_M_APP)
    globals()["app"] = application
    return application
