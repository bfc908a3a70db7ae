"""Every frame a client can send on ``/api/ws`` gets a defined answer (docs/websocket.md),
before and after the ``auth.dpop`` proof, and costs the log at most one line, never a
traceback."""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from auth.testing import DpopKey
from tests.integration.conftest import Server, raw_upgrade, receive_json

pytestmark = pytest.mark.integration

MESSAGE_LIMIT = 16 * 1024  # LIVE_MAX_MESSAGE_BYTES' default

HOSTILE: dict[str, tuple[str | bytes, int]] = {
    "binary": (b"\x00\x01binary", 1003),
    "not JSON": ("not json", 4400),
    "a JSON array": ("[1, 2]", 4400),
    "a type that is not a string": ('{"type": 1}', 4400),
    "an unknown type": ('{"type": "todo.delete.all"}', 4400),
    "nested deeper than 4": ('{"type": "ping", "a": {"b": {"c": {"d": {}}}}}', 4400),
    "nested deep enough to exhaust the parser": ("[" * 5000 + "]" * 5000, 4400),
    "over the message limit": (json.dumps({"type": "ping", "pad": "a" * MESSAGE_LIMIT}), 4400),
    "over the frame layer's limit": ("a" * (4 * MESSAGE_LIMIT + 1), 1009),
}


def _log_since(server: Server, offset: int) -> list[str]:
    return server.api.output()[offset:].splitlines()


def _assert_quiet(lines: list[str]) -> None:
    """No traceback, no error, and at most one line of the application's own besides
    the server's and the access line (``LOG_FORMAT=text``: ``[level] event [logger]``)."""
    errors = [line for line in lines if "Traceback" in line or "[error" in line]
    assert not errors, lines
    own = [line for line in lines if "[uvicorn." not in line and "[app.access]" not in line]
    assert len(own) <= 1, lines


async def _receive_forever(socket_: Any) -> None:
    while True:  # past any event still in flight
        await receive_json(socket_)


async def _closed_with(socket_: Any) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await _receive_forever(socket_)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_a_hostile_message_after_ready_gets_its_close_code(server: Server, kind: str) -> None:
    message, code = HOSTILE[kind]
    offset = len(server.api.output())
    async with server.socket(server.issuer.token("ws-hostile"), max_size=None) as live:
        assert (await receive_json(live))["type"] == "ready"
        await live.send(message)
        assert await _closed_with(live) == code
    _assert_quiet(_log_since(server, offset))


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_a_hostile_message_instead_of_the_dpop_proof_gets_its_close_code(
    server: Server, kind: str
) -> None:
    message, code = HOSTILE[kind]
    key = DpopKey()
    offset = len(server.api.output())
    async with server.socket(server.issuer.token("ws-hostile", dpop_key=key)) as live:
        await live.send(message)
        assert await _closed_with(live) == code
    _assert_quiet(_log_since(server, offset))


async def test_a_known_message_sent_before_the_dpop_proof_closes_4401(server: Server) -> None:
    token = server.issuer.token("ws-hostile", dpop_key=DpopKey())
    async with server.socket(token) as live:
        await live.send(json.dumps({"type": "ping"}))
        assert await _closed_with(live) == 4401


def _frame(opcode: int, payload: bytes, *, mask: bool = True) -> bytes:
    """A final client frame of under 126 bytes built by hand (RFC 6455 §5.2), so that
    it can break the rules."""
    if not mask:
        return bytes([0x80 | opcode, len(payload)]) + payload
    key = os.urandom(4)
    masked = bytes(byte ^ key[n % 4] for n, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + masked


def _close_code(raw: socket.socket) -> int:
    """The code of the close frame the server sends (after any data frames)."""
    raw.settimeout(10)
    buffered = b""
    while True:
        chunk = raw.recv(65536)
        assert chunk, "the connection ended without a close frame"
        buffered += chunk
        while len(buffered) >= 2:
            opcode, length = buffered[0] & 0x0F, buffered[1] & 0x7F
            header = 2 + {126: 2, 127: 8}.get(length, 0)
            if length >= 126:
                length = int.from_bytes(buffered[2:header], "big")
            if len(buffered) < header + length:
                break
            if opcode == 0x8:
                code: int = struct.unpack("!H", buffered[header : header + 2])[0]
                return code
            buffered = buffered[header + length :]


BROKEN_FRAMES = {
    "text that is not UTF-8": (_frame(0x1, b"\xff\xfe"), 1007),
    "a reserved opcode": (_frame(0x3, b"x"), 1002),
    "a continuation with nothing to continue": (_frame(0x0, b"x"), 1002),
    "an unmasked frame": (_frame(0x1, b'{"type": "ping"}', mask=False), 1002),
}


@pytest.mark.parametrize("kind", list(BROKEN_FRAMES))
def test_a_frame_that_breaks_rfc_6455_gets_the_protocol_close_code(
    server: Server, kind: str
) -> None:
    frame, code = BROKEN_FRAMES[kind]
    offset = len(server.api.output())
    raw = raw_upgrade(server, server.issuer.token("ws-broken"))
    try:
        raw.sendall(frame)
        assert _close_code(raw) == code
    finally:
        raw.close()
    _assert_quiet(_log_since(server, offset))
