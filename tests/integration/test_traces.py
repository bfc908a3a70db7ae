"""What an OpenTelemetry collector receives from ``python -m app``: read off the wire by a
small OTLP/HTTP receiver on loopback (protobuf decoded), not from the SDK's in-memory
exporter. No token, proof, code, ticket, query value, header credential or todo text
reaches it, whatever the instrumentations capture."""

from __future__ import annotations

import contextlib
import gzip
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from websockets.sync.client import connect  # feature: live
from websockets.typing import Subprotocol  # feature: live

from auth.testing import TestIssuer
from tests.integration.conftest import api_env
from tests.services import PostgresServer, RedisServer, api_process, free_port, wait_until

pytestmark = pytest.mark.integration

#: The resource the requests reach; its table is named as its route.
ROUTE = "/api/todos"
TABLE = ROUTE.removeprefix("/api/")


class Collector:
    """An OTLP/HTTP trace receiver: every export body as received, and decoded."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.requests: list[ExportTraceServiceRequest] = []

    def spans(self) -> list[Any]:
        return [
            span
            for request in self.requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]


@contextlib.contextmanager
def otlp_collector() -> Iterator[tuple[Collector, str]]:
    collector = Collector()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            collector.bodies.append(body)
            collector.requests.append(ExportTraceServiceRequest.FromString(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield collector, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _text(value: AnyValue) -> list[str]:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return [value.string_value]
    if kind == "array_value":
        return [text for item in value.array_value.values for text in _text(item)]
    return []


def _attributes(span: Any) -> dict[str, list[str]]:
    return {attribute.key: _text(attribute.value) for attribute in span.attributes}


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql+redis", marks=[pytest.mark.pg, pytest.mark.redis])]
)
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        return {"DATABASE_URL": f"sqlite:///{tmp_path / 'todo.db'}"}
    postgres: PostgresServer = request.getfixturevalue("postgres")
    redis: RedisServer = request.getfixturevalue("redis")
    url = postgres.create_database(f"todo_{uuid.uuid4().hex[:12]}")
    return {"DATABASE_URL": url, "REDIS_URL": redis.url}


def test_the_collector_receives_no_secret(
    issuer: TestIssuer, tmp_path: Path, backends: dict[str, str]
) -> None:
    tokens = [issuer.token(f"traced-{n}") for n in range(4)]
    secrets = ["C0DE-value", "ST4TE-value", "T1CKET-value", "WST1CKET-value", "S3CRET-text"]
    secrets += [token.split(".")[2] for token in tokens]  # a signature alone is enough
    with otlp_collector() as (collector, endpoint):
        env = api_env(
            issuer,
            **backends,
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_BSP_SCHEDULE_DELAY="100",
            # The worst an operator can configure: every header captured.
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST=".*",
            OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE=".*",
        )
        with api_process(env, workdir=tmp_path) as api:
            refused = httpx.get(
                f"{api.base_url}{ROUTE}",
                params={"access_token": tokens[0], "code": "C0DE-value", "state": "ST4TE-value"},
            )
            assert refused.status_code == 400
            bearer = {"Authorization": f"Bearer {tokens[1]}"}
            listed = httpx.get(f"{api.base_url}{ROUTE}?ticket=T1CKET-value", headers=bearer)
            assert listed.status_code == 200
            created = httpx.post(
                f"{api.base_url}{ROUTE}",
                json={"text": "S3CRET-text"},
                headers={"Authorization": f"Bearer {tokens[2]}"},
            )
            assert created.status_code == 201
            wait_until(
                lambda: any(ROUTE in str(s) for s in collector.spans()),
                timeout=15,
                what="the spans at the collector",
            )
            # feature: live begin
            ws_url = api.base_url.replace("http://", "ws://") + "/api/ws?ticket=WST1CKET-value"
            with connect(
                ws_url,
                subprotocols=[
                    Subprotocol("todo.v1"),
                    Subprotocol(f"authorization_bearer_{tokens[3]}"),
                ],
            ) as ws:
                assert '"ready"' in str(ws.recv(timeout=5))
            wait_until(
                lambda: any("/api/ws" in str(s) for s in collector.spans()),
                timeout=15,
                what="the live socket's span at the collector",
            )
            # feature: live end
        received = b"".join(collector.bodies)

    for secret in secrets:
        assert secret.encode() not in received, secret
    attributes = [_attributes(span) for span in collector.spans()]
    # The URL keeps its path and the query's names, as the access line does (the
    # instrumentation writes url.full and url.query, or http.url, by its conventions).
    urls = {
        value
        for found in attributes
        for key in ("url.full", "http.url", "url.query", "http.target")
        for value in found.get(key, [])
    }
    assert any(
        url.endswith("?access_token=[redacted]&code=[redacted]&state=[redacted]")
        or url == "access_token=[redacted]&code=[redacted]&state=[redacted]"
        for url in urls
    ), urls
    headers = [found for found in attributes if "http.request.header.authorization" in found]
    assert headers
    assert all(found["http.request.header.authorization"] == ["[redacted]"] for found in headers)
    assert any(ROUTE in str(found) for found in attributes)
    # Statements are traced, as templates.
    statements = [
        value
        for found in attributes
        for key in ("db.query.text", "db.statement")
        for value in found.get(key, [])
    ]
    assert any(TABLE in statement.lower() for statement in statements), statements
