"""The send deadline: a connection whose client has stopped reading is closed.

uvicorn writes a response, or a WebSocket message, into the transport and, once the
transport's buffer is over its high-water mark, pauses the application until the client
reads (``drain()``); nothing bounds that wait, so a client that requests a large answer
and never reads holds its connection, and its place under ``API_MAX_CONNECTIONS``, for
ever. A buffer that is not even full waits the same way when the connection is closed:
``transport.close()`` first flushes what is buffered.

``SendWatch`` looks at the transport every half ``send_timeout``: output waiting in the
buffer that has not moved (the buffer has not shrunk, the transport has not asked the
protocol to resume writing) at two looks in a row, so for at least ``send_timeout``, is
a stalled reader, and the connection is aborted (its buffer dropped, no FIN wait). A
client that reads, however slowly, keeps its connection; one that reads nothing is gone
between ``send_timeout`` and 1.5 times it. An idle connection with nothing to send costs
a timer callback every half period and nothing else; ``tests/integration/test_limits.py``
holds sockets that never read against a real server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class SendWatch:
    """Aborts ``transport`` once its pending output has not moved for ``timeout``
    seconds. Protocols call ``moved`` from ``resume_writing`` and ``stop`` when the
    connection is lost; a WebSocket protocol takes the watch over at the upgrade."""

    __slots__ = ("_handle", "_last", "_loop", "_moved", "_on_stall", "_period", "_still")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        transport: asyncio.WriteTransport,
        timeout: float,
        on_stall: Callable[[asyncio.WriteTransport], None],
    ) -> None:
        self._loop = loop
        self._period = timeout / 2
        self._on_stall = on_stall
        self._last = 0
        self._moved = False
        self._still = 0
        self._handle: asyncio.TimerHandle | None = loop.call_later(
            self._period, self._look, transport
        )

    def moved(self) -> None:
        """The transport drained below its low-water mark: the client reads."""
        self._moved = True

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _look(self, transport: asyncio.WriteTransport) -> None:
        size = transport.get_write_buffer_size()
        if size == 0 and transport.is_closing():
            self._handle = None  # closed, or closing with nothing left to send
            return
        if size == 0 or size < self._last or self._moved:
            self._still = 0
        else:
            self._still += 1
            if self._still > 2:  # still at three looks: for at least a whole period pair
                self._handle = None
                self._on_stall(transport)
                return
        self._last, self._moved = size, False
        self._handle = self._loop.call_later(self._period, self._look, transport)
