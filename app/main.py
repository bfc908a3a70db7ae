"""The application factory: ``uvicorn app.main:app`` or ``python -m app``.

The lifespan builds everything a request needs (engine, authenticator, replay store,
event broker) from the environment, and closes it on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from redis.asyncio import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from app.body_limit import BodySizeLimit
from app.db import create_engine, create_sessionmaker
from app.errors import install_error_handlers
from app.events import EventBroker, MemoryBroker
from app.events_redis import RedisBroker
from app.live import LiveConnections
from app.migrations import upgrade_to_head
from app.routes import admin, health, live, me, todos
from app.settings import AppSettings
from app.users import KnownUsers
from auth import AuthSettings, create_authenticator, install_token_redaction
from auth import fastapi as auth_fastapi
from auth.replay import ReplayStore
from auth.replay_redis import RedisReplayStore

logger = logging.getLogger("app")

EXPOSED_HEADERS = ["WWW-Authenticate", "DPoP-Nonce", "ETag", "Location", "Retry-After"]


def _redis_client(url: str) -> Redis:
    # Short timeouts and one quick retry: during an outage every command should fail
    # fast (503, logged) rather than hold a request for seconds.
    return Redis.from_url(
        url,
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        health_check_interval=10,
    )


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: AppSettings = app.state.settings
    auth_settings: AuthSettings = app.state.auth_settings
    if settings.db_migrate_on_start:
        await anyio.to_thread.run_sync(upgrade_to_head, settings.database_url)
    engine = create_engine(settings.database_url)
    redis = _redis_client(settings.redis_url) if settings.redis_url else None
    replay: ReplayStore | None = RedisReplayStore(redis) if redis is not None else None
    broker: EventBroker = (
        RedisBroker(redis, max_queued=settings.live_send_queue_size)
        if redis is not None
        else MemoryBroker(max_queued=settings.live_send_queue_size)
    )
    async with httpx.AsyncClient(timeout=auth_settings.http_timeout_seconds) as http_client:
        authenticator = create_authenticator(
            auth_settings, production=settings.production, http_client=http_client, replay=replay
        )
        auth_fastapi.attach(app, authenticator)

        async def redis_is_reachable() -> bool:
            try:
                return bool(await redis.ping()) if redis is not None else True
            except Exception:  # readiness reports; never raises
                return False

        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.redis = redis
        app.state.redis_is_reachable = redis_is_reachable
        app.state.broker = broker
        await authenticator.start()
        await broker.start()
        try:
            yield
        finally:
            app.state.live.close_all()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await app.state.live.wait_closed()
            await broker.aclose()
            await authenticator.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()


def create_app(
    settings: AppSettings | None = None, auth_settings: AuthSettings | None = None
) -> FastAPI:
    """Build the API. Settings default to the environment."""
    settings = settings or AppSettings()
    auth_settings = auth_settings or AuthSettings()
    app = FastAPI(
        title="TODO API",
        summary="Per-user todos behind OIDC access tokens (RFC 9068), Bearer or DPoP (RFC 9449).",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.auth_settings = auth_settings
    app.state.known_users = KnownUsers()
    app.state.live = LiveConnections()
    install_error_handlers(app)
    auth_fastapi.install(app)
    routers = (health.router, me.router, todos.router, admin.router, live.router)
    for router in routers:
        app.include_router(router)
    # For the Allow header of 405 answers (app.errors).
    app.state.api_routes = [
        route for router in routers for route in router.routes if isinstance(route, APIRoute)
    ]
    if settings.cors_origins:  # without origins to allow, the middleware is pure cost
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "DPoP", "Content-Type", "If-Match"],
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_body_bytes)
    install_token_redaction()
    return app


app = create_app()
