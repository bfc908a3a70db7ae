"""What an open WebSocket keeps (app.server.websocket_protocol): neither the HTTP protocol
it was upgraded from nor its parsed upgrade request, so that ten thousand idle sockets
hold only what they use. In process, on a fake transport."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.http11 import Request
from websockets.server import ServerProtocol

from app.server.http_limits import http_protocol
from app.server.websocket_protocol import WebSocketProtocol
from tests.app.test_server_contract import LIMITS, FakeTransport

UPGRADE = (
    b"GET /api/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: todo.v1, authorization_bearer_eyJ.token\r\n\r\n"
)
#: A masked text frame "hi" (mask of zeros: the payload reads as sent).
HI = b"\x81\x82\x00\x00\x00\x00hi"


class _Probe(WebSocketProtocol):
    """Remembers, weakly, the upgrade request it was given."""

    request_seen: weakref.ref[Request] | None = None

    def handle_connect(self, event: Request) -> None:
        type(self).request_seen = weakref.ref(event)
        super().handle_connect(event)


def _config(received: list[str]) -> Config:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            received.append(message["text"])

    return Config(app, lifespan="off", log_config=None, access_log=False, ws=_Probe)


async def _turns() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def _upgraded(transport: FakeTransport) -> _Probe:
    assert transport.written.startswith(b"HTTP/1.1 101"), transport.written[:80]
    protocol = transport.get_protocol()
    assert isinstance(protocol, _Probe)
    return protocol


@pytest.mark.parametrize("kind", ["httptools", "h11"])
async def test_an_open_socket_holds_neither_the_http_protocol_nor_the_request(kind: str) -> None:
    http = http_protocol(kind, LIMITS)(  # type: ignore[call-arg]
        config=_config([]), server_state=ServerState(), app_state={}
    )
    transport = FakeTransport()
    transport.set_protocol(http)
    http.connection_made(transport)
    http.data_received(UPGRADE)
    await _turns()
    socket = _upgraded(transport)
    upgraded_from = weakref.ref(http)
    del http
    gc.collect()
    assert upgraded_from() is None
    assert socket.request_seen is not None
    assert socket.request_seen() is None
    # The token's copies in the scope are gone; what the application reads later stays.
    names = [name for name, _ in socket.scope["headers"]]
    assert b"host" in names
    assert b"sec-websocket-protocol" not in names
    assert b"sec-websocket-key" not in names
    assert socket.scope["subprotocols"] == []
    socket.connection_lost(None)
    await _turns()


async def test_frames_sent_with_the_request_are_read_all_the_same() -> None:
    received: list[str] = []
    socket = _Probe(config=_config(received), server_state=ServerState(), app_state={})
    transport = FakeTransport()
    transport.set_protocol(socket)
    socket.connection_made(transport)
    socket.data_received(UPGRADE + HI + HI[:3])  # a frame, and one begun
    await _turns()
    _upgraded(transport)
    # The request parser was left in place: it is inside a frame.
    assert getattr(socket.conn.parser, "gi_code", None) is ServerProtocol.parse.__code__
    socket.data_received(HI[3:])
    await _turns()
    assert received == ["hi", "hi"]
    socket.connection_lost(None)
    await _turns()


async def test_frames_after_the_forgotten_request_are_read() -> None:
    received: list[str] = []
    socket = _Probe(config=_config(received), server_state=ServerState(), app_state={})
    transport = FakeTransport()
    transport.set_protocol(socket)
    socket.connection_made(transport)
    socket.data_received(UPGRADE)
    await _turns()
    _upgraded(transport)
    assert getattr(socket.conn.parser, "gi_code", None) is not ServerProtocol.parse.__code__
    socket.data_received(HI[:3])  # a frame in pieces
    socket.data_received(HI[3:] + HI)
    await _turns()
    assert received == ["hi", "hi"]
    socket.connection_lost(None)
    await _turns()


class _Writes(FakeTransport):
    """Records each write on its own."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        super().write(data)
        self.writes.append(bytes(data))


async def test_the_101_and_a_message_sent_with_it_leave_in_one_write_then_messages_go_at_once() -> (
    None
):
    sent_later: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept", "subprotocol": "todo.v1"})
        await send({"type": "websocket.send", "text": "ready"})
        await _turns()
        before = len(transport.writes)
        await send({"type": "websocket.send", "text": "later"})
        sent_later.append(len(transport.writes) - before)  # written by send itself
        await receive()

    config = Config(app, lifespan="off", log_config=None, access_log=False, ws=_Probe)
    http = http_protocol("httptools", LIMITS)(  # type: ignore[call-arg]
        config=config, server_state=ServerState(), app_state={}
    )
    transport = _Writes()
    transport.set_protocol(http)
    http.connection_made(transport)
    http.data_received(UPGRADE)
    for _ in range(3):
        await _turns()
    socket = _upgraded(transport)
    first = transport.writes[0]
    assert first.startswith(b"HTTP/1.1 101")
    assert b"Sec-WebSocket-Protocol: todo.v1" in first
    assert first.endswith(b"\x81\x05ready")  # the message, unmasked, in the same write
    assert sent_later == [1]
    assert transport.writes[1] == b"\x81\x05later"
    socket.connection_lost(None)
    await _turns()


async def test_the_protocol_starts_with_what_uvicorns_starts_with() -> None:
    """It has uvicorn's attributes, with its own inbox and flag for the queue and the
    event: a newer uvicorn that sets another attribute fails here rather than at the
    first socket."""
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    config = _config([])
    ours = WebSocketProtocol(config=config, server_state=ServerState(), app_state={})
    uvicorns = WebSocketsSansIOProtocol(config=config, server_state=ServerState(), app_state={})
    assert vars(ours).keys() == vars(uvicorns).keys()
    for name, value in vars(uvicorns).items():
        if name not in {"logger", "queue", "writable", "conn", "loop", "tasks", "connections"}:
            assert vars(ours)[name] == value, name
    assert ours.conn.max_message_size == uvicorns.conn.max_message_size
    assert ours.logger.logger is uvicorns.logger  # type: ignore[attr-defined]
