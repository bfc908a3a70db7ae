"""OpenTelemetry traces, on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Spans come from the official instrumentations: one server span per request (FastAPI),
one per SQL statement (SQLAlchemy), per call to the identity provider (httpx) and per
Redis command; ``auth`` adds its own ``auth.verify`` span with the failed check as an
attribute (``auth.tracing``). Spans are batched and sent over OTLP/HTTP; the SDK reads
the other ``OTEL_*`` variables itself (headers, sampler, resource attributes).

The official instrumentations patch process-wide hooks (SQLAlchemy's engine events,
the global tracer provider that ``auth`` uses): one traced application per process.
"""

from __future__ import annotations

from fastapi import FastAPI
from httpx import AsyncClient
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

#: Probes and scrapes would be most of the spans and say nothing.
UNTRACED_PATHS = "/healthz,/readyz,/metrics"


def otlp_tracer_provider(endpoint: str, *, service_name: str) -> TracerProvider:
    """A provider that batches spans to the OTLP/HTTP collector at ``endpoint`` (the base
    URL, as in ``OTEL_EXPORTER_OTLP_ENDPOINT``; ``/v1/traces`` is appended)."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
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

    def instrument_services(
        self, *, engine: AsyncEngine, http_client: AsyncClient, redis: Redis | None
    ) -> None:
        """Client spans for the database, the identity provider and Redis."""
        # The instrumentation declares "sqlalchemy < 2.1" and would refuse 2.1; its
        # engine events are unchanged in 2.1, and tests/app/observability checks the
        # statement spans arrive.
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=self.provider, skip_dep_check=True
        )
        HTTPXClientInstrumentor.instrument_client(http_client, tracer_provider=self.provider)
        if redis is not None:
            RedisInstrumentor.instrument_client(redis, tracer_provider=self.provider)

    def shutdown(self) -> None:
        """Stop patching the database hooks and flush the spans still batched."""
        SQLAlchemyInstrumentor().uninstrument()
        self.provider.force_flush()
