"""What a span may carry out of the process (app.observability.span_redaction)."""

from __future__ import annotations

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.observability.span_redaction import RedactingSpanExporter, redact_span

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


def test_urls_keep_their_path_and_query_names_only() -> None:
    span = redact_span(
        ReadableSpan(
            "GET /api/todos",
            attributes={
                "url.full": f"https://api.example/cb?code=c0de&state=s&access_token={JWT}",
                "http.url": "https://api.example/socket?ticket=t1",
                "url.query": "code=c0de&state=s",
                "http.target": "/socket?ticket=t1&session=s2",
                "url.path": "/api/todos",
            },
        )
    )
    assert dict(span.attributes or {}) == {
        "url.full": "https://api.example/cb?code=[redacted]&state=[redacted]&access_token=[redacted]",
        "http.url": "https://api.example/socket?ticket=[redacted]",
        "url.query": "code=[redacted]&state=[redacted]",
        "http.target": "/socket?ticket=[redacted]&session=[redacted]",
        "url.path": "/api/todos",
    }


def test_captured_credential_headers_lose_their_values() -> None:
    span = redact_span(
        ReadableSpan(
            "GET",
            attributes={
                "http.request.header.authorization": (f"Bearer {JWT}",),
                "http.request.header.dpop": ("proof",),
                "http.request.header.cookie": ("session=1",),
                "http.request.header.sec_websocket_protocol": ("todo.v1, authorization_bearer_x",),
                "http.response.header.set_cookie": ("a=b",),
                "http.request.header.accept": ("*/*",),
            },
        )
    )
    attributes = dict(span.attributes or {})
    assert attributes.pop("http.request.header.accept") == ("*/*",)
    assert set(attributes.values()) == {("[redacted]",)}


def test_events_links_and_names_are_redacted_too() -> None:
    span = redact_span(
        ReadableSpan(
            f"GET {JWT}",
            attributes={"note": f"token {JWT}", "count": 3},
            events=[Event("exception", {"exception.message": f"bad token {JWT}"})],
        )
    )
    assert JWT not in span.name
    assert dict(span.attributes or {})["count"] == 3
    assert JWT not in str(dict(span.attributes or {}))
    assert JWT not in str(dict(span.events[0].attributes or {}))


def test_the_exporter_sends_the_redacted_spans() -> None:
    inner = InMemorySpanExporter()
    exporter = RedactingSpanExporter(inner)
    span = ReadableSpan("GET", attributes={"url.query": "code=c0de"})
    assert exporter.export([span]) is SpanExportResult.SUCCESS
    (exported,) = inner.get_finished_spans()
    assert dict(exported.attributes or {}) == {"url.query": "code=[redacted]"}
    assert exporter.force_flush()
    exporter.shutdown()
