"""uvicorn's WebSocket protocol (websockets, sans-I/O), with three changes:

- A text message that is not UTF-8 (RFC 6455 §8.1) is answered with 1007 and one warning
  line. uvicorn closes with 1007 too, but logs the ``UnicodeDecodeError`` with its
  traceback: one traceback per such frame, so one client could flood the log.
- uvicorn's own line for each handshake (``"WebSocket /api/ws?ticket=..." [accepted]``)
  is not written: it carries the whole request target, query values included, and the
  application writes one access line per upgrade already (``app.observability.requests``,
  method ``WEBSOCKET``, query values redacted).

- It takes over the connection's send deadline and its place in the client's share from
  the HTTP protocol it was upgraded from (``adopt``; ``app.server.http_limits``): a socket
  whose client stops reading is aborted like any connection, and counts for its client
  until it closes.

Everything else is uvicorn's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from app.server.send_deadline import SendWatch

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


class WebSocketProtocol(WebSocketsSansIOProtocol):
    _watch: SendWatch | None = None
    _release: Callable[[], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _WithoutHandshakeLines(self.logger)  # type: ignore[assignment]

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
