"""``python -m app``: serve the API with uvicorn, configured for this application.

``python -m app --help`` lists the options: ``--host``/``--port`` (over ``API_LISTEN``),
``--reload`` for development, and ``--dev``, the development identity unless
``OIDC_MODE`` is set in the environment or ``.env`` (what ``make run`` uses).

Compared with a bare ``uvicorn app.main:app``: proxy headers are not trusted (so a
client's ``X-Forwarded-Proto`` cannot change the URL a DPoP proof is checked against;
trust proxies with ``OIDC_TRUSTED_PROXIES`` instead), the request head, connections and
WebSocket messages are capped (``app.server.http_limits``, docs/limits.md), WebSocket
heartbeats are set, log lines get one format (``LOG_FORMAT``; the application writes the
access line, uvicorn's own access log is off), the cyclic garbage collector is tuned for a
server (below), and on shutdown live sockets are closed with 1001 (Going Away) before
uvicorn closes connections.
"""

from __future__ import annotations

import argparse
import contextlib  # feature: live
import gc
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp  # feature: live
from uvicorn.supervisors import ChangeReload

from app.main import create_app
from app.observability.logs import configure_logging
from app.server.http_limits import HttpLimits, http_protocol
from app.server.open_files import raise_open_file_limit
from app.server.websocket_protocol import WebSocketProtocol  # feature: live
from app.services import services_of  # feature: live
from app.settings import AppSettings, ListenAddress, TodoAuthSettings, load_settings
from auth import ConfigurationError, IpNetwork, check_settings

logger = logging.getLogger("app.settings")

# feature: live begin
#: The WebSocket layer fails a message this many times over ``LIVE_MAX_MESSAGE_BYTES``
#: with 1009 from its frame header, before reading it; below that the app answers 4400.
WS_FRAME_LAYER_FACTOR = 4
# feature: live end
#: The cyclic collector's thresholds (CPython's default is 700, 10, 10). The first is how
#: many more container objects may be alive than at the last collection before the young
#: generation is collected: with 700, the objects of the requests in flight were
#: collected while still in use, survived, and filled the older generations, so that
#: under load full collections ran often (bench/README.md, section 6).
#: Objects that die young, as almost all of a request's do, are freed without any
#: collection at all; a higher threshold only lets more of them go that way.
GC_THRESHOLDS = (10_000, 10, 10)


class Server(uvicorn.Server):
    """uvicorn's server, plus the GC freeze after start-up (and live sockets closed with
    1001 before connections are)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # What start-up made (modules, the application, settings, keys, prepared
        # statements) lives as long as the process: frozen, no collection walks it
        # again. Each full collection used to walk all of it, pausing every request
        # in flight.
        gc.collect()
        gc.freeze()

    # feature: live begin
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn closes connections before the lifespan ends (sockets would get 1012):
        # the services' own close of live sockets is run first, so they get 1001.
        app: ASGIApp | None = getattr(self.config, "loaded_app", None)
        if isinstance(app, FastAPI):
            with contextlib.suppress(RuntimeError):  # the lifespan never started
                grace = self.config.timeout_graceful_shutdown or 0
                await services_of(app).live.close_all(grace_seconds=grace / 2)
        await super().shutdown(sockets)

    # feature: live end


def uvicorn_config(
    app: FastAPI | str,
    settings: AppSettings,
    *,
    listen: ListenAddress | None = None,
    trusted_proxies: Sequence[IpNetwork] = (),
) -> uvicorn.Config:
    """How ``python -m app`` runs uvicorn (also what bench/http_protocol.py measures);
    ``trusted_proxies`` (``OIDC_TRUSTED_PROXIES``) say whose forwarded client address
    the per-client connection share believes."""
    listen = listen or settings.api_listen
    return uvicorn.Config(
        app,
        host=listen.host,
        port=listen.port,
        http=http_protocol(
            settings.api_http,
            HttpLimits(
                max_connections=settings.api_max_connections,
                max_header_bytes=settings.api_max_header_bytes,
                max_header_line_bytes=settings.api_max_header_line_bytes,
                header_timeout_seconds=settings.api_header_timeout_seconds,
                body_timeout_seconds=settings.api_body_timeout_seconds,
                send_timeout_seconds=settings.api_send_timeout_seconds,
                max_connections_per_client=settings.api_max_connections_per_client,
                trusted_proxies=tuple(trusted_proxies),
            ),
        ),
        # uvloop where it is installed (it is a dependency off Windows), asyncio elsewhere.
        loop="auto",
        # feature: live begin
        ws=WebSocketProtocol,
        ws_max_size=WS_FRAME_LAYER_FACTOR * settings.live_max_message_bytes,
        # Events are small JSON objects: compression would cost more memory per socket
        # (a compressor and a decompressor each; see bench/README.md) than it saves.
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        # feature: live end
        # The application writes one access line per request (app.observability):
        # uvicorn's would be a second, with the query string in it.
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=round(settings.api_shutdown_grace_seconds),
        log_config=None,
    )


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="Serve the API. Settings come from the environment and ./.env "
        "(docs/configuration.md); these options override them.",
    )
    parser.add_argument("--host", help="the address to listen on (API_LISTEN's host)")
    parser.add_argument(
        "--port", type=int, choices=range(1, 65536), metavar="PORT", help="API_LISTEN's port"
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="development: restart when a file of app/, auth/ or migrations/ changes",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development: unless OIDC_MODE is set (environment or .env) or APP_ENV is "
        "production, every request is the static development identity",
    )
    return parser.parse_args(argv)


def _load(*, dev: bool) -> tuple[AppSettings, TodoAuthSettings]:
    """The settings, checked before serving so that a bad setup ends with one sentence
    instead of a lifespan traceback (exit status 2)."""
    try:
        settings, auth_settings = load_settings()
        if dev and "mode" not in auth_settings.model_fields_set and not settings.production:
            # Through the environment, so that a --reload worker reads the same.
            os.environ["OIDC_MODE"] = "static"
            settings, auth_settings = load_settings()
        check_settings(auth_settings, production=settings.production)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings, auth_settings


def _serve_reloaded(sockets: list[socket.socket] | None = None) -> None:
    """A ``--reload`` worker: a fresh process that imports the code as it is now."""
    settings, auth_settings = _load(dev=False)
    configure_logging(settings.resolved_log_format, level=settings.log_level)
    raise_open_file_limit(settings.api_max_connections)
    app = create_app(settings, auth_settings)
    config = uvicorn_config(app, settings, trusted_proxies=auth_settings.trusted_proxies)
    Server(config).run(sockets=sockets)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    settings, auth_settings = _load(dev=arguments.dev)
    configure_logging(settings.resolved_log_format, level=settings.log_level)
    for notice in settings.notices:
        logger.warning("%s", notice)
    listen = ListenAddress(
        arguments.host or settings.api_listen.host, arguments.port or settings.api_listen.port
    )
    if arguments.reload:
        # The supervisor holds the socket and restarts a worker (_serve_reloaded) on each
        # change; its own configuration only says what to watch.
        root = Path(__file__).resolve().parents[2]
        watch = [str(root / name) for name in ("app", "auth", "migrations")]
        supervisor = uvicorn.Config(
            "app.main:app",
            host=listen.host,
            port=listen.port,
            reload=True,
            reload_dirs=watch,
            log_config=None,
        )
        ChangeReload(supervisor, target=_serve_reloaded, sockets=[supervisor.bind_socket()]).run()
        return
    gc.set_threshold(*GC_THRESHOLDS)
    raise_open_file_limit(settings.api_max_connections)
    app = create_app(settings, auth_settings)
    config = uvicorn_config(
        app, settings, listen=listen, trusted_proxies=auth_settings.trusted_proxies
    )
    Server(config).run()
