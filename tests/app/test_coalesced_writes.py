"""What a connection writes in one round of the loop leaves in one write
(app.server.coalesced_writes): bytes in order, large writes at once, close and abort."""

from __future__ import annotations

import asyncio
from typing import Any

from app.server.coalesced_writes import MAX_HELD, CoalescedTransport


class RecordingTransport(asyncio.Transport):
    """The socket's transport, reduced to what it was asked to do."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0


async def test_the_writes_of_one_round_go_out_in_one_call_in_order() -> None:
    inner = RecordingTransport()
    transport = CoalescedTransport(inner, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(memoryview(b"{}"))
    transport.write(b"")
    assert inner.writes == []
    assert transport.get_write_buffer_size() == 21
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    assert transport.get_write_buffer_size() == 0
    transport.write(b"next")
    await asyncio.sleep(0)
    assert inner.writes[-1] == b"next"


async def test_a_large_write_meets_the_socket_at_once() -> None:
    inner = RecordingTransport()
    transport = CoalescedTransport(inner, asyncio.get_running_loop())
    transport.write(b"head")
    transport.write(b"x" * MAX_HELD)
    assert inner.writes == [b"head" + b"x" * MAX_HELD]
    await asyncio.sleep(0)  # nothing held, nothing written twice
    assert len(inner.writes) == 1


async def test_closing_writes_what_is_held_and_aborting_drops_it() -> None:
    inner = RecordingTransport()
    transport = CoalescedTransport(inner, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert (inner.writes, inner.closed) == ([b"last words"], True)

    inner = RecordingTransport()
    transport = CoalescedTransport(inner, asyncio.get_running_loop())
    transport.write(b"never sent")
    transport.abort()
    await asyncio.sleep(0)
    assert (inner.writes, inner.aborted) == ([], True)


async def test_a_protocol_taking_the_connection_over_gets_the_sockets_own_transport() -> None:
    inner = RecordingTransport()
    transport = CoalescedTransport(inner, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    assert transport.released() is inner
    assert inner.writes == [b"HTTP/1.1 101 Switching Protocols\r\n\r\n"]  # held, written first
    await asyncio.sleep(0)
    assert len(inner.writes) == 1
