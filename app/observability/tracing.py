"""OpenTelemetry traces, on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Spans come from the official instrumentations: one server span per request (FastAPI),
one per PostgreSQL query (asyncpg), per call to the identity provider (httpx) and per
Redis command; ``auth`` adds its own ``auth.verify`` span with the failed check as an
attribute (``auth._tracing``). SQLite statements get a span from ``TracedDatabase``: the
official sqlite3 instrumentation traces cursors, and ``app.data.sqlite`` runs statements on
its connections. The application reads and writes through its drivers, not SQLAlchemy
(``app.data.database``), so SQLAlchemy's instrumentation would only see Alembic at start-up. Spans
are batched and sent over OTLP/HTTP, with no token, code or query value in them
(``app.observability.span_redaction``); the SDK reads the other ``OTEL_*`` variables
itself (headers, sampler, resource attributes).

The official instrumentations patch process-wide hooks (asyncpg's connection class, the
global tracer provider ``auth`` uses): one traced application per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis

from app.data.database import Database
from app.data.postgres import PostgresDatabase
from app.data.statements import Params, Row, Statement
from app.observability.span_redaction import RedactingSpanExporter

#: Probes and scrapes would be most of the spans and say nothing.
UNTRACED_PATHS = "/healthz,/readyz,/metrics"


def otlp_tracer_provider(endpoint: str, *, service_name: str) -> TracerProvider:
    """A provider that batches spans to the OTLP/HTTP collector at ``endpoint`` (the base
    URL, as in ``OTEL_EXPORTER_OTLP_ENDPOINT``; ``/v1/traces`` is appended), each span
    redacted on its way out (``app.observability.span_redaction``)."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(exporter)))
    return provider


class Tracing:
    """Instruments the application and the clients its services open."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        # auth's span and anything else that asks the API for a tracer use the global
        # provider; it can be set once per process (later calls are ignored).
        trace.set_tracer_provider(provider)

    def instrument_app(self, app: FastAPI) -> None:
        """Server spans (call when building the application: it adds a middleware)."""
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.provider, excluded_urls=UNTRACED_PATHS
        )

    def instrument_database(self, database: Database) -> Database:
        """The database to use: PostgreSQL's connections are instrumented in place
        (asyncpg), SQLite is wrapped."""
        if isinstance(database, PostgresDatabase):
            AsyncPGInstrumentor().instrument(  # type: ignore[no-untyped-call]
                tracer_provider=self.provider
            )
            return database
        return TracedDatabase(database, tracer=self.provider.get_tracer(__name__))

    def instrument_clients(self, *, http_client: AsyncClient, redis: Redis | None) -> None:
        """Client spans for the identity provider and Redis."""
        HTTPXClientInstrumentor.instrument_client(http_client, tracer_provider=self.provider)
        if redis is not None:
            RedisInstrumentor.instrument_client(redis, tracer_provider=self.provider)

    def shutdown(self) -> None:
        """Stop patching asyncpg and flush the spans still batched."""
        instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        self.provider.force_flush()


class TracedDatabase:
    """A ``Database`` whose reads and writes are client spans named after the statement's
    first keyword, carrying the SQL template (never the values; OpenTelemetry's database
    conventions, ``db.query.text``)."""

    def __init__(self, database: Database, *, tracer: trace.Tracer) -> None:
        self._database = database
        self._tracer = tracer
        self.dialect = database.dialect
        self.statements = database.statements

    async def fetch(self, statement: Statement, params: Params) -> list[Row]:
        with self._span((statement,)):
            return await self._database.fetch(statement, params)

    async def write(self, statements: Sequence[Statement], params: Params) -> list[list[Row]]:
        with self._span(statements):
            return await self._database.write(statements, params)

    def _span(self, statements: Sequence[Statement]) -> Any:
        first = statements[0].sql.lstrip().split(None, 1)[0].upper() if statements else "SQL"
        return self._tracer.start_as_current_span(
            first if len(statements) == 1 else "TRANSACTION",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": "sqlite",
                "db.query.text": "; ".join(statement.sql for statement in statements),
            },
        )

    def uuid(self, value: Any) -> str:
        return self._database.uuid(value)

    def connections(self) -> tuple[int, int]:
        return self._database.connections()

    async def is_reachable(self) -> bool:
        return await self._database.is_reachable()

    async def aclose(self) -> None:
        await self._database.aclose()
