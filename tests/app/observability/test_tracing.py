"""OpenTelemetry traces (app.observability.tracing, auth.tracing), captured in memory."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app.main import create_app
from auth.testing import TestIssuer
from tests.app.conftest import API, app_settings, auth_settings


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="session")
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    # One provider for the session: OpenTelemetry's global provider is set only once.
    traced = TracerProvider()
    traced.add_span_processor(SimpleSpanProcessor(exporter))
    return traced


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter
    exporter.clear()


async def test_a_request_is_traced_through_auth_the_database_and_the_idp(
    database_url: str,
    issuer: TestIssuer,
    provider: TracerProvider,
    spans: InMemorySpanExporter,
) -> None:
    app = create_app(
        app_settings(database_url),
        auth_settings(issuer),
        tracer_provider=provider,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=API) as client,
    ):
        token = issuer.token("alice")
        ok = await client.get("/api/todos", headers={"Authorization": f"Bearer {token}"})
        refused = await client.get(
            "/api/todos",
            headers={"Authorization": f"Bearer {issuer.token('bob', aud='another-api')}"},
        )
    assert (ok.status_code, refused.status_code) == (200, 401)
    finished: list[ReadableSpan] = list(spans.get_finished_spans())

    servers = [span for span in finished if span.kind is SpanKind.SERVER]
    assert [span.name for span in servers] == ["GET /api/todos", "GET /api/todos"]
    verifications = [span for span in finished if span.name == "auth.verify"]
    assert [span.attributes and span.attributes["auth.outcome"] for span in verifications] == [
        "ok",
        "invalid_token",
    ]
    refusal = verifications[1]
    assert refusal.attributes is not None
    assert refusal.attributes["auth.check"] == "aud"
    assert refusal.status.status_code is StatusCode.ERROR
    # Each verification span sits inside its request's server span.
    for verification, server in zip(verifications, servers, strict=True):
        assert verification.context is not None
        assert server.context is not None
        assert verification.context.trace_id == server.context.trace_id
    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    statements = [
        span
        for span in finished
        if span.kind is SpanKind.CLIENT and database in str(dict(span.attributes or {}))
    ]
    assert statements, f"no {database} statement span"
    # Statement spans sit in a request's trace, and carry no bound value.
    assert {span.context.trace_id for span in statements if span.context} & {
        span.context.trace_id for span in servers if span.context
    }
    idp = [
        span for span in finished if span.kind is SpanKind.CLIENT and span.name.startswith("GET")
    ]
    assert idp, "the discovery and JWKS fetches are client spans"
    assert all(token not in str(span.to_json()) for span in finished)
