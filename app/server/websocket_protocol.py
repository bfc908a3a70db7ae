"""uvicorn's WebSocket protocol (websockets, sans-I/O), with these changes:

- A text message that is not UTF-8 (RFC 6455 §8.1) is answered with 1007 and one warning
  line. uvicorn closes with 1007 too, but logs the ``UnicodeDecodeError`` with its
  traceback: one traceback per such frame, so one client could flood the log.
- uvicorn's own line for each handshake (``"WebSocket /api/ws?ticket=..." [accepted]``)
  is not written: it carries the whole request target, query values included, and the
  application writes one access line per upgrade already (``app.observability.requests``,
  method ``WEBSOCKET``, query values redacted).
- websockets' own lines for every socket ("connection open", "connection closed") are
  not written either: two more lines per socket cost a tenth of opening one. Its
  warnings and errors are.
- It takes over the connection's send deadline and its place in the client's share from
  the HTTP protocol it was upgraded from (``adopt``; ``app.server.http_limits``): a socket
  whose client stops reading is aborted like any connection, and counts for its client
  until it closes.
- The parsed upgrade request and its response are let go once the handshake is done:
  uvicorn keeps them for the socket's lifetime (about 4 KiB, headers twice over, the
  access token among them) though neither is read again.
- Once accepted, the scope keeps no upgrade header only the handshake reads
  (``Sec-WebSocket-Protocol``, ``-Key``, ``-Extensions``) nor the offered subprotocols:
  the access token is in both, about 2 KiB a socket; the application has read them.
- The parsed upgrade request is let go by websockets' parser too: its parsing
  generator keeps it in a local variable for the socket's lifetime (about 3 KiB), so
  once the request is parsed and nothing follows it, the parser is replaced by the
  frame parser it would have run next, in the same state.
- Its inbox and its "writable" flag are a list and a flag with waiters made on demand
  (``_Inbox``, ``_Flag``): an ``asyncio.Queue`` and an ``asyncio.Event`` hold five
  deques, about 3 KiB, for every socket, idle or not.
- The 101 response and whatever the application sends in the same round of the event
  loop (the live protocol's ``ready`` message) leave in one write: the connection's
  coalescing transport is kept until the end of the round that accepts, then the
  socket writes to its own (``app.server.coalesced_writes``).

Everything else is uvicorn's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import Protocol
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from app.server.coalesced_writes import CoalescedTransport
from app.server.send_deadline import SendWatch

if TYPE_CHECKING:
    from uvicorn._types import ASGISendEvent, WebSocketAcceptEvent

#: Upgrade headers read by the handshake alone (the first one carries the access token).
HANDSHAKE_HEADERS = frozenset(
    (b"sec-websocket-protocol", b"sec-websocket-key", b"sec-websocket-extensions")
)
#: How uvicorn's handshake lines start (websockets_sansio_impl: accepted, 403, a status).
HANDSHAKE_LINE = '%s - "WebSocket %s"'


class _WithoutHandshakeLines(logging.LoggerAdapter[logging.Logger]):
    """uvicorn's logger, less its handshake lines (``level`` is read by uvicorn too)."""

    @property
    def level(self) -> int:
        return self.logger.level

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith(HANDSHAKE_LINE):
            return
        super().log(level, msg, *args, **kwargs)


class _WarningsAndErrors(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger that writes only WARNING and above."""

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 (logging's name)
        return level >= logging.WARNING and self.logger.isEnabledFor(level)


class _Waiters:
    """Futures of the coroutines waiting for something, kept in a list made on demand."""

    __slots__ = ("_waiters",)

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] | None = None

    async def _wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            self._waiters.remove(waiter)

    def _wake(self, *, every: bool) -> None:
        for waiter in self._waiters or ():
            if not waiter.done():
                waiter.set_result(None)
                if not every:
                    return


class _Inbox(_Waiters):
    """What uvicorn uses of an unbounded ``asyncio.Queue``: ``put_nowait``, ``get``,
    ``empty``."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Any] = []

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake(every=False)

    async def get(self) -> Any:
        while not self._items:
            await self._wait()
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items


class _Flag(_Waiters):
    """What uvicorn uses of an ``asyncio.Event``: ``set``, ``clear``, ``wait``."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        super().__init__()
        self._set = False

    def set(self) -> None:
        self._set = True
        self._wake(every=True)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            await self._wait()


class WebSocketProtocol(WebSocketsSansIOProtocol):
    _watch: SendWatch | None = None
    _release: Callable[[], None] | None = None

    _coalesced: CoalescedTransport | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _WithoutHandshakeLines(self.logger)  # type: ignore[assignment]
        self.conn.logger = _WarningsAndErrors(self.conn.logger, {})
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The connection's coalescing transport until the accepting round ends (see
        # send); from then on the socket's own: messages go out as they come
        # (app.server.coalesced_writes).
        if isinstance(transport, CoalescedTransport):
            self._coalesced = transport
        super().connection_made(transport)

    def _write_as_they_come(self) -> None:
        coalesced, self._coalesced = self._coalesced, None
        if coalesced is not None:
            self.transport = coalesced.released()

    def data_received(self, data: bytes) -> None:
        upgrade = not self.handshake_initiated
        super().data_received(data)
        if upgrade and self.handshake_initiated:
            _forget_request(self.conn)

    def adopt(self, watch: SendWatch | None, release: Callable[[], None] | None) -> None:
        """Take over the HTTP connection's send deadline, and what gives its place in
        the client's share back."""
        self._watch, self._release = watch, release

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._watch is not None:
            self._watch.moved()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self._release is not None:
            self._release()
            self._release = None
        super().connection_lost(exc)

    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] == "websocket.accept" and self._accept(message):
            return
        await super().send(message)
        if self._coalesced is not None and self.handshake_complete:
            # Refused, or the handshake failed: nothing follows but the close.
            self._write_as_they_come()

    def _accept(self, message: WebSocketAcceptEvent) -> bool:
        """uvicorn's accept, less its handshake line (not written anyway, see the
        module's docstring); False where uvicorn's own send must answer."""
        if self.disconnected or self.handshake_complete or self.initial_response is not None:
            return False
        if self.transport.is_closing():
            return False
        response_headers = [
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in (self.default_headers + list(message.get("headers", [])))
        ]
        subprotocol = message.get("subprotocol")
        if subprotocol:
            response_headers.append(("Sec-WebSocket-Protocol", subprotocol))
        del self.response.headers["Date"]
        self.response.headers.update(response_headers)
        self.handshake_complete = True
        self.conn.send_response(self.response)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.start_keepalive()
        if self._coalesced is not None:
            # Held until the round ends, with what the application sends in it.
            self.loop.call_soon(self._write_as_they_come)
        self.request = self.response = None  # type: ignore[assignment]
        # In place: the application's scope may be a copy sharing these lists.
        headers = cast("list[tuple[bytes, bytes]]", self.scope["headers"])
        headers[:] = [field for field in headers if field[0] not in HANDSHAKE_HEADERS]
        cast("list[str]", self.scope["subprotocols"]).clear()
        return True

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not _is_utf8(self.frames):
            self.frames = []
            self.logger.warning("Invalid UTF-8 sequence received from client.")
            self.conn.send_close(1007)
            self.handle_parser_exception()  # sends the close and ends the connection
            return
        super().send_receive_event_to_app()


def _is_utf8(frames: list[bytes]) -> bool:
    try:
        (frames[0] if len(frames) == 1 else b"".join(frames)).decode()
    except UnicodeDecodeError:
        return False
    return True


def _forget_request(conn: ServerProtocol) -> None:
    """Replace ``conn``'s request parser, which holds the request it parsed, with the
    frame parser it runs from then on. Only where the two are in the same state: the
    request parsed and no byte after it read (the frame parser waits for its first
    byte, having consumed none); otherwise the parser is left as it is."""
    parser = conn.parser
    if conn.reader.buffer or getattr(parser, "gi_code", None) is not ServerProtocol.parse.__code__:
        return
    inner = getattr(parser, "gi_yieldfrom", None)
    if getattr(inner, "gi_code", None) is not Protocol.parse.__code__:
        return  # not yet (or no longer) parsing frames
    waiting_on = getattr(inner, "gi_yieldfrom", None)
    if getattr(waiting_on, "gi_code", None) is not StreamReader.at_eof.__code__:
        return  # inside a frame
    frames = Protocol.parse(conn)
    next(frames)  # to where the old one waits: for the first byte of a frame
    conn.parser = frames
