"""What leaves the process in a trace carries no secret: a span exporter that rewrites
every span before it is exported.

OpenTelemetry's HTTP instrumentations put the request's whole URL in a server span
(``url.query``, ``http.target``, ``url.full``/``http.url``): a refused
``?access_token=<JWT>`` would reach the collector with its signature, and so would an
OAuth ``code`` or a socket ``ticket``, past every log redaction. Here, as in the access
line (``auth.redact_target``), a URL keeps its path and its query's names and loses
every value; captured request and response headers that carry credentials
(``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*``: ``Authorization``, ``DPoP``, cookies,
the WebSocket subprotocols that carry a token) lose their values; and every other string,
in an attribute, an event (an exception's message and stack trace), a link or the span's
name, goes through ``auth.redact``. Database statements are templates already (the
drivers' instrumentations and ``TracedDatabase`` never capture bound values), and the
Redis instrumentation writes commands as ``SET ? ?``: both still pass through ``redact``.

An exporter, not a span processor: it runs on the batch processor's thread, off the
request's path, and sees each span as it leaves, whoever set the attribute and when.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link

from auth import redact, redact_target

_FULL_URL = frozenset({"url.full", "http.url"})
_TARGET = frozenset({"http.target"})
_QUERY = frozenset({"url.query"})
_HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
# Header names as OpenTelemetry writes them in attribute keys (lower case, "_" for "-").
_CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "dpop",
        "cookie",
        "set_cookie",
        "sec_websocket_protocol",
        "x_api_key",
    }
)
REDACTED = "[redacted]"


def _full_url(value: str) -> str:
    parts = urlsplit(value)
    return f"{parts.scheme}://{parts.netloc}" + redact_target(parts.path, parts.query)


def _string(value: str, key: str) -> str:
    if key in _FULL_URL:
        return _full_url(value)
    if key in _TARGET:
        return redact_target(value)
    if key in _QUERY:
        return redact_target("", value).removeprefix("?")
    return redact(value)


def redact_attribute(key: str, value: Any) -> Any:
    """``value`` of attribute ``key`` as it may leave the process."""
    if key.startswith(_HEADER_PREFIXES) and key.rsplit(".", maxsplit=1)[-1] in _CREDENTIAL_HEADERS:
        return (
            (REDACTED,) if isinstance(value, Sequence) and not isinstance(value, str) else REDACTED
        )
    if isinstance(value, str):
        return _string(value, key)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return tuple(_string(item, key) if isinstance(item, str) else item for item in value)
    return value


def redact_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: redact_attribute(key, value) for key, value in (attributes or {}).items()}


def redact_span(span: ReadableSpan) -> ReadableSpan:
    """A copy of ``span`` with every attribute, event, link and its name redacted."""
    return ReadableSpan(
        name=redact(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=redact_attributes(span.attributes),
        events=[
            Event(redact(event.name), redact_attributes(event.attributes), event.timestamp)
            for event in span.events
        ],
        links=[Link(link.context, redact_attributes(link.attributes)) for link in span.links],
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    """Exports through ``exporter`` what ``redact_span`` leaves of each span."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([redact_span(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._exporter.force_flush(timeout_millis)
