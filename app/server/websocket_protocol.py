"""uvicorn's WebSocket protocol (websockets, sans-I/O), with two changes:

- A text message that is not UTF-8 (RFC 6455 §8.1) is answered with 1007 and one warning
  line. uvicorn closes with 1007 too, but logs the ``UnicodeDecodeError`` with its
  traceback: one traceback per such frame, so one client could flood the log.
- uvicorn's own line for each handshake (``"WebSocket /api/ws?ticket=..." [accepted]``)
  is not written: it carries the whole request target, query values included, and the
  application writes one access line per upgrade already (``app.observability.requests``,
  method ``WEBSOCKET``, query values redacted).

Everything else is uvicorn's.
"""

from __future__ import annotations

import logging
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

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
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _WithoutHandshakeLines(self.logger)  # type: ignore[assignment]

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
