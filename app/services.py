"""Everything a request needs, built once in the lifespan and closed once on the way out.

``Services`` is the one typed, frozen object the application keeps; ``app.state`` holds
nothing else, and only ``services_of`` reads it. Routes reach the parts through the
``Annotated`` aliases of ``app.api.deps``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
import httpx
from redis.asyncio import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from app.api.security import oidc
from app.data.database import ConnectionLimits, Database, backend
from app.data.migrations import upgrade_to_head
from app.data.owned import OwnedResource
from app.data.postgres import PostgresDatabase
from app.data.resources import RESOURCES
from app.data.sqlite import SqliteDatabase
from app.data.users import KnownUsers
from app.events.broker import EventBroker, MemoryBroker
from app.events.connections import Clock, LiveConnections, SystemClock  # feature: live
from app.events.redis import RedisBroker  # feature: live
from app.observability.throttle import ThrottledLog
from app.settings import AppSettings
from auth import Authenticator, AuthSettings, ReplayStore
from auth.replay_redis import RedisReplayStore

if TYPE_CHECKING:  # imported only when traces are on: the instrumentations are heavy
    from app.observability.tracing import Tracing


@dataclass(frozen=True, slots=True)
class Services:
    """The running application's shared objects."""

    settings: AppSettings
    auth_settings: AuthSettings
    authenticator: Authenticator
    database: Database
    broker: EventBroker
    #: The Redis client shared by the replay store and the broker, when ``REDIS_URL`` is set.
    redis: Redis | None
    live: LiveConnections  # feature: live
    known_users: KnownUsers
    #: The client for the identity providers (discovery, keys).
    http_client: httpx.AsyncClient | None = None
    # feature: live begin
    #: Wall-clock time for token expiry on live sockets (tests move it by hand).
    clock: Clock = field(default_factory=SystemClock)
    # feature: live end
    #: The readiness warning, once a minute at most while the same parts fail.
    not_ready_log: ThrottledLog = field(
        default_factory=lambda: ThrottledLog(logging.getLogger("app.readiness"))
    )

    async def redis_is_reachable(self) -> bool:
        """True without Redis, or when it answers PING. Readiness reports; never raises."""
        if self.redis is None:
            return True
        try:
            return bool(await self.redis.ping())
        except Exception:  # any failure is "not reachable"
            return False


def _redis_client(url: str, timeout_seconds: float) -> Redis:
    # Short timeouts and one quick retry: during an outage every command should fail
    # fast (503, logged) rather than hold a request for seconds.
    return Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1),
        health_check_interval=10,
    )


async def open_database(
    url: str,
    limits: ConnectionLimits | None = None,
    resources: Sequence[OwnedResource] = RESOURCES,
) -> Database:
    """The database of ``DATABASE_URL``, already migrated (``app.data.migrations``), with
    the statements of ``resources`` (every owned resource of ``app.data.resources``)."""
    limits = limits or ConnectionLimits()
    if backend(url) == "sqlite":
        path = make_url(url).database or ""
        busy = limits.busy_timeout_seconds
        return SqliteDatabase.open(path, resources, busy_timeout_seconds=busy)
    return await PostgresDatabase.open(url, resources, limits)


def connection_limits(settings: AppSettings) -> ConnectionLimits:
    return ConnectionLimits(
        pool_size=settings.db_pool_size,
        acquire_timeout_seconds=settings.db_acquire_timeout_seconds,
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
        statement_timeout_seconds=settings.db_statement_timeout_seconds,
        busy_timeout_seconds=settings.db_busy_timeout_seconds,
    )


@contextlib.asynccontextmanager
async def open_services(
    app: Starlette,
    settings: AppSettings,
    auth_settings: AuthSettings,
    *,
    clock: Clock | None = None,  # feature: live
    tracing: Tracing | None = None,
) -> AsyncIterator[Services]:
    """Migrate, connect and start everything for ``app``; on exit, close it in reverse
    order. With ``tracing``, the database, identity provider and Redis clients make spans.

    The authenticator runs for ``app`` (``oidc.running``: kept in the application, so two
    applications in one process each have their own); ``Services`` is its one other
    reader. This is the application's one shutdown path: what is open is closed in the
    reverse order (live sockets first, with 1001: ``LiveConnections.close_all``).
    """
    if settings.db_migrate_on_start:
        await anyio.to_thread.run_sync(upgrade_to_head, settings.database_url)
    async with contextlib.AsyncExitStack() as stack:
        database = await open_database(settings.database_url, connection_limits(settings))
        stack.push_async_callback(database.aclose)
        if tracing is not None:
            database = tracing.instrument_database(database)
        redis = (
            _redis_client(settings.redis_url, settings.redis_timeout_seconds)
            if settings.redis_url
            else None
        )
        if redis is not None:
            stack.push_async_callback(redis.aclose)
        replay: ReplayStore | None = RedisReplayStore(redis) if redis is not None else None
        broker: EventBroker = MemoryBroker(max_queued=settings.live_send_queue_size)
        # feature: live begin
        if redis is not None:  # the sockets of every instance get every event
            broker = RedisBroker(redis, max_queued=settings.live_send_queue_size)
        # feature: live end
        http_client = await stack.enter_async_context(
            httpx.AsyncClient(timeout=auth_settings.http_timeout_seconds)
        )
        if tracing is not None:
            tracing.instrument_clients(http_client=http_client, redis=redis)
        # Keys are loaded here, before the broker starts. An identity provider that does
        # not answer is logged and retried (readiness reports it); one whose answer can
        # never work stops start-up in production (OIDC_IF_MISCONFIGURED), and what was
        # opened above is closed on the way out.
        authenticator = await stack.enter_async_context(
            oidc.running(
                app,
                settings=auth_settings,
                production=settings.production,
                http_client=http_client,
                replay=replay,
            )
        )
        services = Services(
            settings=settings,
            auth_settings=auth_settings,
            authenticator=authenticator,
            database=database,
            broker=broker,
            redis=redis,
            # feature: live begin
            live=LiveConnections(
                max_sockets=settings.live_max_sockets,
                max_sockets_per_user=settings.live_max_sockets_per_user,
                max_unproven=settings.live_max_unproven_sockets,
                max_unproven_per_client=settings.live_max_unproven_sockets_per_client,
            ),
            # feature: live end
            known_users=KnownUsers(database),
            http_client=http_client,
            clock=clock or SystemClock(),  # feature: live
        )
        await broker.start()
        stack.push_async_callback(broker.aclose)
        stack.push_async_callback(services.live.close_all)  # feature: live
        yield services


def services_of(connection: HTTPConnection | Starlette) -> Services:
    """The services of the running application (of a request, a WebSocket, or the app).

    Raises:
        RuntimeError: the lifespan has not started (or has ended).
    """
    app = connection.app if isinstance(connection, HTTPConnection) else connection
    services: Services | None = getattr(app.state, "services", None)
    if services is None:
        raise RuntimeError("the application's lifespan is not running")
    return services
