"""The fence around ``app/server/``: the private names and signatures of uvicorn, h11 and
httptools that its protocols (HTTP, and WebSocket for live updates) rely on, and the
protocols driven in process over a fake transport. Fast: a version of uvicorn that
renames or reshapes any of them fails here, not only in the slow integration tier.
pyproject.toml pins the minor versions these were written for."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import h11
import httptools
import pytest
import uvicorn
from h11._receivebuffer import ReceiveBuffer
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.websockets import websockets_sansio_impl  # feature: live
from uvicorn.server import ServerState

from app.server.http_limits import HttpLimits, http_protocol
from app.server.websocket_protocol import HANDSHAKE_LINE  # feature: live

#: The versions the wrappers were written for (pyproject.toml pins the same).
WRITTEN_FOR = {"uvicorn": "0.54.", "h11": "0.16.", "httptools": "0.9.", "websockets": "17.4"}


def test_the_installed_versions_are_those_the_wrappers_were_written_for() -> None:
    installed = {"uvicorn": uvicorn.__version__, "h11": version("h11")}
    installed["httptools"] = httptools.__version__
    installed["websockets"] = version("websockets")
    for name, prefix in WRITTEN_FOR.items():
        assert installed[name].startswith(prefix), (name, installed[name])


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


_WEBSOCKET = websockets_sansio_impl.WebSocketsSansIOProtocol  # feature: live

#: (class, method, its parameters): every method the wrappers override, call or extend.
METHODS = [
    (HttpToolsProtocol, "data_received", ["self", "data"]),
    (HttpToolsProtocol, "connection_made", ["self", "transport"]),
    (HttpToolsProtocol, "connection_lost", ["self", "exc"]),
    (HttpToolsProtocol, "resume_writing", ["self"]),
    (HttpToolsProtocol, "on_message_begin", ["self"]),
    (HttpToolsProtocol, "on_headers_complete", ["self"]),
    (HttpToolsProtocol, "on_message_complete", ["self"]),
    (HttpToolsProtocol, "on_body", ["self", "body"]),
    (HttpToolsProtocol, "_unset_keepalive_if_required", ["self"]),
    (HttpToolsProtocol, "_should_upgrade", ["self"]),
    (HttpToolsProtocol, "_unsupported_upgrade_warning", ["self"]),
    (HttpToolsProtocol, "handle_websocket_upgrade", ["self"]),
    (HttpToolsProtocol, "send_400_response", ["self", "msg"]),
    (H11Protocol, "data_received", ["self", "data"]),
    (H11Protocol, "connection_made", ["self", "transport"]),
    (H11Protocol, "connection_lost", ["self", "exc"]),
    (H11Protocol, "resume_writing", ["self"]),
    (H11Protocol, "handle_events", ["self"]),
    (H11Protocol, "handle_websocket_upgrade", ["self", "event"]),
    (H11Protocol, "send_400_response", ["self", "msg"]),
    # feature: live begin
    (_WEBSOCKET, "send_receive_event_to_app", ["self"]),
    (_WEBSOCKET, "handle_parser_exception", ["self"]),
    (_WEBSOCKET, "resume_writing", ["self"]),
    (_WEBSOCKET, "connection_lost", ["self", "exc"]),
    # feature: live end
    (h11.Connection, "next_event", ["self"]),
    (h11.Connection, "receive_data", ["self", "data"]),
    (ReceiveBuffer, "_extract", ["self", "count"]),
    (ReceiveBuffer, "maybe_extract_lines", ["self"]),
    (ReceiveBuffer, "maybe_extract_next_line", ["self"]),
    (uvicorn.Server, "startup", ["self", "sockets"]),
    (uvicorn.Server, "shutdown", ["self", "sockets"]),
]


@pytest.mark.parametrize(
    ("owner", "name", "parameters"),
    METHODS,
    ids=[f"{owner.__name__}.{name}" for owner, name, _ in METHODS],
)
def test_every_method_the_wrappers_rely_on_keeps_its_signature(
    owner: type, name: str, parameters: list[str]
) -> None:
    assert _parameters(getattr(owner, name)) == parameters


def test_the_names_the_wrappers_read_still_exist() -> None:
    assert {"HttpParserCallbackError", "HttpParserError", "HttpParserUpgrade"} <= set(
        dir(httptools)
    )
    assert hasattr(httptools.HttpRequestParser, "feed_data")
    assert h11.RemoteProtocolError("x", 431).error_status_hint == 431
    assert isinstance(h11.Connection(h11.SERVER)._receive_buffer, ReceiveBuffer)
    assert isinstance(h11.Connection.trailing_data, property)
    cycle_fields = _parameters(RequestResponseCycle.__init__)
    assert {"transport", "flow", "keep_alive", "on_response"} <= set(cycle_fields)
    # feature: live begin
    # The handshake lines the WebSocket protocol leaves out, and the redaction rewrites.
    source = inspect.getsource(websockets_sansio_impl)
    assert source.count(HANDSHAKE_LINE) == 3
    assert "get_path_with_query_string(self.scope)" in source
    for attribute in ("curr_msg_data_type", "frames", "conn", "logger"):
        assert f"self.{attribute}" in source, attribute
    # feature: live end


class FakeTransport(asyncio.Transport):
    """What the protocols call on a transport; records what they write."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False
        self.protocol: asyncio.BaseProtocol | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("192.0.2.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})


#: Limits no test request comes near.
LIMITS = HttpLimits(
    max_connections=10,
    max_header_bytes=4096,
    max_header_line_bytes=1024,
    header_timeout_seconds=5,
    body_timeout_seconds=5,
)


def _connected(kind: str) -> tuple[asyncio.Protocol, FakeTransport]:
    config = Config(_app, lifespan="off", log_config=None, access_log=False)
    protocol = http_protocol(kind, LIMITS)(config=config, server_state=ServerState(), app_state={})  # type: ignore[call-arg]
    transport = FakeTransport()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    assert isinstance(getattr(protocol, "flow", None), FlowControl)
    return protocol, transport


@pytest.mark.parametrize("kind", ["httptools", "h11"])
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 2000 + b"\r\n\r\n", b"431"),
        (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\nHost: x\r\n\r\n", b"400"),
    ],
    ids=["field", "target", "obs-fold", "bare-lf"],
)
async def test_the_limited_protocols_refuse_in_process(
    kind: str, request_bytes: bytes, status: bytes
) -> None:
    protocol, transport = _connected(kind)
    protocol.data_received(request_bytes)
    assert transport.written.startswith(b"HTTP/1.1 " + status), transport.written[:80]
    assert b"application/problem+json" in transport.written
    assert transport.closed
    protocol.connection_lost(None)


@pytest.mark.parametrize("kind", ["httptools", "h11"])
async def test_the_limited_protocols_serve_in_process(kind: str) -> None:
    protocol, transport = _connected(kind)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(20):
        await asyncio.sleep(0)
    assert transport.written.startswith(b"HTTP/1.1 200"), transport.written[:80]
    assert transport.written.endswith(b"ok")
    protocol.connection_lost(None)
