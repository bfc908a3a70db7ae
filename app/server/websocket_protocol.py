"""uvicorn's WebSocket protocol (websockets, sans-I/O), answering a text message that is
not UTF-8 (RFC 6455 §8.1) with 1007 and one warning line.

uvicorn closes with 1007 too, but logs the ``UnicodeDecodeError`` with its traceback: one
traceback per such frame, so one client could flood the log. Everything else is uvicorn's.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class WebSocketProtocol(WebSocketsSansIOProtocol):
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
