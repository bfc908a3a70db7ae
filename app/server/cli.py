"""``python -m app``: serve the API with uvicorn, configured for this application.

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

import contextlib
import gc
import sys

import uvicorn
from fastapi import FastAPI

from app.main import create_app
from app.observability.logs import configure_logging
from app.server.http_limits import HttpLimits, http_protocol
from app.server.websocket_protocol import WebSocketProtocol
from app.services import services_of
from app.settings import AppSettings, load_settings
from auth import ConfigurationError, check_settings

#: The WebSocket layer fails a message this many times over ``LIVE_MAX_MESSAGE_BYTES``
#: with 1009 from its frame header, before reading it; below that the app answers 4400.
WS_FRAME_LAYER_FACTOR = 4
#: The cyclic collector's thresholds (CPython's default is 700, 10, 10). The first is how
#: many more container objects may be alive than at the last collection before the young
#: generation is collected: with 700, the objects of the requests in flight were
#: collected while still in use, survived, and filled the older generations, so that
#: under load full collections ran often (bench/README.md, section 6).
#: Objects that die young, as almost all of a request's do, are freed without any
#: collection at all; a higher threshold only lets more of them go that way.
GC_THRESHOLDS = (10_000, 10, 10)


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        await super().startup(sockets)
        # What start-up made (modules, the application, settings, keys, prepared
        # statements) lives as long as the process: frozen, no collection walks it
        # again. Each full collection used to walk all of it, pausing every request
        # in flight.
        gc.collect()
        gc.freeze()

    async def shutdown(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        # uvicorn closes connections before the lifespan ends (sockets would get 1012):
        # the services' own close of live sockets is run first, so they get 1001.
        with contextlib.suppress(RuntimeError):  # RuntimeError: the lifespan never started
            await services_of(self.app).live.close_all()
        await super().shutdown(sockets)


def uvicorn_config(app: FastAPI, settings: AppSettings) -> uvicorn.Config:
    """How ``python -m app`` runs uvicorn (also what bench/http_protocol.py measures)."""
    return uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        http=http_protocol(
            settings.api_http,
            HttpLimits(
                max_connections=settings.api_max_connections,
                max_header_bytes=settings.api_max_header_bytes,
                max_header_line_bytes=settings.api_max_header_line_bytes,
                header_timeout_seconds=settings.api_header_timeout_seconds,
                body_timeout_seconds=settings.api_body_timeout_seconds,
            ),
        ),
        loop="uvloop",
        ws=WebSocketProtocol,
        ws_max_size=WS_FRAME_LAYER_FACTOR * settings.live_max_message_bytes,
        # Events are small JSON objects: compression would cost more memory per socket
        # (a compressor and a decompressor each; see bench/README.md) than it saves.
        ws_per_message_deflate=False,
        # The application writes one access line per request (app.observability):
        # uvicorn's would be a second, with the query string in it.
        access_log=False,
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        log_config=None,
    )


def main() -> None:
    try:
        # Checked before serving, so a bad setup ends with one sentence instead of a
        # lifespan traceback.
        settings, auth_settings = load_settings()
        check_settings(auth_settings, production=settings.production)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.resolved_log_format, level=settings.log_level)
    gc.set_threshold(*GC_THRESHOLDS)
    app = create_app(settings, auth_settings)
    Server(uvicorn_config(app, settings), app).run()


if __name__ == "__main__":
    main()
