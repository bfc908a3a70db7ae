"""What one HTTP connection may make the server hold, enforced inside uvicorn's HTTP
protocol as bytes arrive, before a request reaches the application.

- The request head (request line and header fields; for a chunked body also its chunk
  lines and trailer fields) is at most ``max_header_bytes``: beyond it, 431 (RFC 6585 §5),
  or 414 when the request target is what is too long (RFC 9112 §3).
- The request target, and each header field (name and value), is at most
  ``max_header_line_bytes``: 414 and 431 again.
- The first request's head arrives within ``header_timeout_seconds`` of the connection's
  opening: 408 (RFC 9110 §15.5.9). A later head must be complete before uvicorn's
  keep-alive timeout, counted from the previous response, runs out (the protocols below
  stop that timer when a head is complete, not at its first byte): the connection is
  closed. Without these, a client sending a byte now and then would hold one of the
  ``max_connections`` forever.
- A request's body is complete within ``body_timeout_seconds`` of its head: 408 when no
  response has started, and the connection is closed. A body trickled a byte at a time
  would otherwise hold a connection for as long as the client likes.
- A connection opened while ``max_connections`` are open (HTTP and WebSocket alike) gets
  503 with ``Retry-After`` for its request. uvicorn's ``limit_concurrency`` is not used:
  it also counts tasks, never refuses a WebSocket upgrade, and refuses the requests of
  connections already open rather than the newcomer's.
- A client (its address, resolved under ``OIDC_TRUSTED_PROXIES``) holding
  ``max_connections_per_client`` connections gets 503 for the next one's request, so
  one host cannot take every place (``app.server.client_shares``).
- Output a client does not read for ``send_timeout_seconds`` aborts the connection, HTTP
  or WebSocket (``app.server.send_deadline``): without it, uvicorn waits on ``drain()``
  for ever for a client that never reads.

The two parsers refuse the same requests (``tests/integration/test_limits.py`` runs one
request-smuggling matrix under both): h11 is made to refuse what llhttp (httptools)
refuses and it would accept, namely obs-fold continuation lines and bare LF line ends
in a head or trailer section (RFC 9112 §5.2, §2.2; an obs-folded line can hide a
``Transfer-Encoding`` from one parser and not another), a repeated or listed
``Content-Length``, both framings at once (§6.3), a chunk size beyond 64 bits and an
HTTP version other than 1.0 and 1.1; httptools is made to refuse a
``Transfer-Encoding`` other than ``chunked`` (``gzip, chunked``), as h11 does.

Every refusal closes the connection. Why by hand: uvicorn's httptools protocol has no
head limit at all. llhttp hands a header value over in pieces and httptools joins them
into one ``bytes`` before calling ``on_header`` (a 200 MiB value is held whole, and copied
as it grows), and no callback fires meanwhile, so the bytes must be counted where they
arrive (``data_received``), feeding the parser at most what is left of the budget. h11
does bound its buffer (``max_incomplete_event_size``) but answers 400: its subclass here
adds the line limits, the timeout, the capacity check and the 414/431 answers.
Docs: docs/limits.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, cast

import h11
import httptools
from h11._receivebuffer import ReceiveBuffer
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.observability.throttle import ThrottledLog
from app.server.client_shares import ClientShares, client_key
from app.server.coalesced_writes import CoalescedTransport
from app.server.send_deadline import SendWatch
from auth import IpNetwork, client_address, is_trusted_proxy, problem_json

logger = logging.getLogger("app.http_limits")

#: The smallest slice fed to httptools, so that a body after a nearly full head is not
#: parsed a few bytes at a time. The parser may hold the head budget plus this much.
_MIN_FEED = 4096


@dataclass(frozen=True)
class HttpLimits:
    max_connections: int
    max_header_bytes: int
    max_header_line_bytes: int
    header_timeout_seconds: float
    body_timeout_seconds: float
    send_timeout_seconds: float = 30.0
    max_connections_per_client: int = 256
    #: Peers whose forwarded client address is believed (``OIDC_TRUSTED_PROXIES``).
    trusted_proxies: tuple[IpNetwork, ...] = ()


#: One line per 10 s at most about stalled readers: a host opening connections it never
#: reads must not write a line for each.
_STALLED = ThrottledLog(logger, interval=10.0)


def _forwarding_headers(fields: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in fields
        if name in (b"forwarded", b"x-forwarded-for")
    ]


def _refusal_response(status: int, detail: str) -> bytes:
    """A complete ``Connection: close`` response with an RFC 9457 problem body."""
    phrase = HTTPStatus(status).phrase
    body = problem_json(status, detail)
    retry = b"retry-after: 1\r\n" if status == 503 else b""
    return (
        f"HTTP/1.1 {status} {phrase}\r\n".encode()
        + b"content-type: application/problem+json\r\n"
        + retry
        + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
        + body
    )


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing: the request is refused."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _close_stalled(
    client: tuple[str, int] | None, timeout: float, transport: asyncio.WriteTransport
) -> None:
    """Abort the connection of ``client`` that has read nothing for ``timeout`` seconds."""
    _STALLED.log(
        logging.WARNING,
        "stalled",
        "closed a connection from %s: the client read nothing for %gs",
        f"{client[0]}:{client[1]}" if client else "?",
        timeout,
    )
    transport.abort()


class _Guard(asyncio.Protocol):
    """What both protocols share: the capacity verdict, the head timer, refusals."""

    limits: ClassVar[HttpLimits]
    shares: ClassVar[ClientShares]  # one per server: set by http_protocol
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    client: tuple[str, int] | None
    connections: set[Any]  # the server's open connections (uvicorn's ServerState)
    _over_capacity = False
    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    #: A request's first bytes have arrived and its head is not complete yet.
    _reading_head = False
    #: The client this connection counts for, and whether that is over its share.
    _share: str | None = None
    _over_share = False
    #: The peer is a trusted proxy: each request says which client it carries.
    _via_proxy = False
    _watch: SendWatch | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # What the connection writes in one round of the loop goes out in one system
        # call (a response's head and body).
        coalesced = CoalescedTransport(cast(asyncio.Transport, transport), self.loop)
        super().connection_made(coalesced)
        self._over_capacity = len(self.connections) > self.limits.max_connections
        peer = self.client[0] if self.client else None
        self._via_proxy = is_trusted_proxy(peer, self.limits.trusted_proxies)
        if peer is not None and not self._via_proxy:
            self._count_for(peer)
        # What the watch calls holds the client's address, not this protocol: a
        # WebSocket takes the watch over, and this protocol must not live as long.
        self._watch = SendWatch(
            self.loop,
            self.transport,
            self.limits.send_timeout_seconds,
            functools.partial(_close_stalled, self.client, self.limits.send_timeout_seconds),
        )
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._body_complete()
        self._release()
        super().connection_lost(exc)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._watch is not None:
            self._watch.moved()

    def _count_for(self, address: str) -> None:
        key = client_key(address)
        if key == self._share:
            return
        if self._share is not None:
            self.shares.give_back(self._share)
        self._share, self._over_share = key, not self.shares.take(key)

    def _release(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self._share is not None:
            self.shares.give_back(self._share)
            self._share = None

    def handle_websocket_upgrade(self, *args: Any) -> None:
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]
        # The connection is the WebSocket protocol's now: its send deadline and its
        # place in the client's share go with it, or end here if it cannot take them.
        protocol = self.transport.get_protocol()
        adopt = getattr(protocol, "adopt", None)
        if protocol is not self and adopt is not None:
            share, self._share = self._share, None
            watch, self._watch = self._watch, None
            # Neither holds this protocol (its parser, the request's head): only the
            # WebSocket's lifetime would end it.
            adopt(watch, functools.partial(self.shares.give_back, share) if share else None)
        else:
            self._release()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.limits.header_timeout_seconds, self._head_timed_out
            )

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head:
            self._refuse(_Refused(408, "The request head did not arrive in time."))
        elif not self.transport.is_closing():
            self.transport.close()  # an idle connection: nothing to answer

    def _body_expected(self) -> None:
        """A head is complete and its body is not: the body's deadline starts."""
        if self._body_timer is None:
            self._body_timer = self.loop.call_later(
                self.limits.body_timeout_seconds, self._body_timed_out
            )

    def _body_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.transport.get_protocol() is not self:
            return  # upgraded to a WebSocket meanwhile
        cycle = getattr(self, "cycle", None)
        # The application may have answered without reading the body (a 405, say).
        unanswered = cycle is not None and not cycle.response_started
        self._refuse(_Refused(408, "The request body did not arrive in time."), unanswered)

    def send_400_response(self, msg: str) -> None:
        # uvicorn's own answer to a request it cannot parse is text/plain; every error
        # of this API is problem+json.
        if not self.transport.is_closing():
            self.transport.write(_refusal_response(400, msg))
            self.transport.close()

    def _check_head(self, target: bytes, fields: list[tuple[bytes, bytes]], size: int) -> None:
        """The head is complete (``size`` bytes at most): refuse it if the connection is
        over capacity or the head over a limit."""
        self._disarm_head_timer()
        if self._via_proxy:
            peer = self.client[0] if self.client else None
            headers = _forwarding_headers(fields)
            address = client_address(
                headers=headers, peer=peer, trusted_proxies=self.limits.trusted_proxies
            )
            if address is not None:
                self._count_for(address)
        if self._over_capacity:
            raise _Refused(503, "The server is at its connection limit; retry shortly.")
        if self._over_share:
            raise _Refused(
                503, "This client holds its share of the server's connections; retry shortly."
            )
        line_limit = self.limits.max_header_line_bytes
        if len(target) > line_limit:
            raise _Refused(414, f"The request target exceeds {line_limit} bytes.")
        if any(len(name) + len(value) > line_limit for name, value in fields):
            raise _Refused(431, f"A header field exceeds {line_limit} bytes.")
        if size > self.limits.max_header_bytes:
            raise self._head_too_large(target)
        self._reading_head = False

    def _head_too_large(self, target: bytes) -> _Refused:
        """The head went over ``max_header_bytes``; ``target`` is as much as was read."""
        if len(target) > self.limits.max_header_line_bytes:
            return _Refused(
                414, f"The request target exceeds {self.limits.max_header_line_bytes} bytes."
            )
        return _Refused(431, f"The request head exceeds {self.limits.max_header_bytes} bytes.")

    def _refuse(self, refused: _Refused, answer: bool | None = None) -> None:
        """Answer and close the connection. By default the answer is for a head being
        read, sent when no earlier response is in flight."""
        self._disarm_head_timer()
        self._body_complete()
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        logger.warning("refused a request from %s: %d %s", client, refused.status, refused.detail)
        if answer is None:
            cycle = getattr(self, "cycle", None)  # the protocols' own request-response cycle
            answer = self._reading_head and (cycle is None or cycle.response_complete)
        if answer:
            self.transport.write(_refusal_response(refused.status, refused.detail))
        self.transport.close()


class LimitedHttpToolsProtocol(_Guard, HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Counted per read slice, so these are upper bounds: a request that begins in a
        # slice (pipelined behind another) is charged from the slice's start. A head is
        # never admitted over the limit; a pipelined one may be refused a little under it.
        self._head_bytes = 0  # bytes of the current request that are not body
        self._body_bytes = 0  # body bytes the parser passed on during the current slice
        self._slice_bytes = 0
        self._fed_bound = 0  # _head_bytes at the end of the current slice, at most
        self._max_head = self.limits.max_header_bytes
        self._line_limit = self.limits.max_header_line_bytes
        self._in_body = False  # between a head and the end of its message

    def data_received(self, data: bytes) -> None:
        # uvicorn stops its keep-alive timer here; on_headers_complete does instead.
        end = len(data)
        if end <= self._max_head - self._head_bytes:  # the usual case: within the budget
            self._feed(data)
        else:
            self._feed_within_budget(data, end)
        if self._in_body and self._body_timer is None and not self.transport.is_closing():
            self._body_expected()

    def _feed_within_budget(self, data: bytes, end: int) -> None:
        start = 0
        while start < end and not self.transport.is_closing():
            # While a head is read, feed no more than its budget: a head that completes
            # inside the slice is then within it, or seen over it in on_headers_complete.
            size = max(self._max_head - self._head_bytes, 1 if self._reading_head else _MIN_FEED)
            piece = data[start : start + size]
            start += len(piece)
            if not self._feed(piece):
                return
            if self._head_bytes > self._max_head:
                # Past the head (chunk lines, trailers) the request is with the app:
                # _refuse then only closes the connection.
                self._refuse(self._head_too_large(getattr(self, "url", b"")))
                return

    def _feed(self, piece: bytes) -> bool:
        """Parse ``piece``; False when parsing has stopped (refused, invalid, upgraded)."""
        self._body_bytes, self._slice_bytes = 0, len(piece)
        self._fed_bound = self._head_bytes + len(piece)
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserCallbackError as error:
            if not isinstance(error.__context__, _Refused):
                raise
            self._refuse(error.__context__)  # raised by a callback below
            return False
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
            return False
        except httptools.HttpParserUpgrade:
            self._in_body = False  # the connection is no longer HTTP's
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        self._head_bytes += len(piece) - self._body_bytes
        return True

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._head_bytes, self._fed_bound = 0, self._slice_bytes
        self._reading_head = True

    def on_headers_complete(self) -> None:
        self._unset_keepalive_if_required()
        for name, value in self.headers:
            # llhttp takes any coding list that ends in chunked; h11 only chunked itself.
            if name == b"transfer-encoding" and value.strip(b" \t").lower() != b"chunked":
                raise _Refused(400, "Transfer-Encoding other than chunked.")
        if (
            self._head_timer
            or self._over_capacity
            or self._via_proxy
            or self._fed_bound > self._line_limit
        ):
            self._check_head(self.url, self.headers, self._fed_bound)
        else:
            self._reading_head = False
        self._in_body = True
        HttpToolsProtocol.on_headers_complete(self)

    def on_message_complete(self) -> None:
        self._in_body = False
        if self._body_timer is not None:
            self._body_complete()
        HttpToolsProtocol.on_message_complete(self)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)


_CONTENT_LENGTH = re.compile(rb"\ncontent-length[ \t]*:([^\r\n]*)", re.IGNORECASE)
#: Hexadecimal digits of the largest chunk size llhttp takes (2**64 - 1).
_MAX_CHUNK_SIZE_DIGITS = 16


class _StrictReceiveBuffer(ReceiveBuffer):
    """h11's receive buffer, refusing in heads and trailer sections what llhttp refuses
    and h11 would take: bare LF line ends, obs-fold continuation lines, a repeated or
    listed ``Content-Length``; and chunk sizes beyond 64 bits. Each section is checked
    once, when h11 takes it out of the buffer (linear: counts and one regex)."""

    _section = False

    def maybe_extract_lines(self) -> list[bytearray] | None:
        self._section = True  # what _extract takes now is a head or a trailer section
        try:
            return super().maybe_extract_lines()
        finally:
            self._section = False

    def maybe_extract_next_line(self) -> bytearray | None:
        line = super().maybe_extract_next_line()  # only chunk-size lines are read so
        if line is not None:
            size = bytes(line).partition(b";")[0].strip(b" \t\r\n").lstrip(b"0")
            if len(size) > _MAX_CHUNK_SIZE_DIGITS:
                raise h11.LocalProtocolError("chunk size beyond 64 bits")
        return line

    def _extract(self, count: int) -> bytearray:
        out = super()._extract(count)
        if self._section:
            if out.count(b"\n") != out.count(b"\r\n"):
                raise h11.LocalProtocolError("bare LF in a head (RFC 9112 §2.2)")
            if b"\n " in out or b"\n\t" in out:
                raise h11.LocalProtocolError("obs-fold in a head (RFC 9112 §5.2)")
            lengths = _CONTENT_LENGTH.findall(out)
            if len(lengths) > 1 or (lengths and b"," in lengths[0]):
                raise h11.LocalProtocolError("Content-Length repeated")
        return out


class _LimitedH11Connection(h11.Connection):
    """h11's connection, telling the protocol where request heads begin and end, and
    reading them as strictly as llhttp does (``_StrictReceiveBuffer``)."""

    def __init__(self, protocol: LimitedH11Protocol) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=protocol.limits.max_header_bytes)
        self._receive_buffer = _StrictReceiveBuffer()
        self.protocol = protocol

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as error:
            if error.error_status_hint != 431:
                raise
            request_line, crlf, _ = self.trailing_data[0].partition(b"\r\n")
            raise self.protocol._head_too_large(b"" if crlf else request_line) from None
        if isinstance(event, h11.Request):
            if event.http_version not in (b"1.0", b"1.1"):
                raise _Refused(400, "HTTP version not supported by this server.")
            fields = list(event.headers)
            names = {name for name, _ in fields}
            if b"transfer-encoding" in names and b"content-length" in names:
                # RFC 9112 §6.3: ought to be handled as an error (a smuggling attempt);
                # h11 lets Transfer-Encoding win, llhttp (httptools) refuses: both refuse.
                raise _Refused(400, "Content-Length and Transfer-Encoding together.")
            # h11 drops the whitespace around values: this is the head's size within a few bytes.
            size = len(event.method) + len(event.target) + 13
            size += sum(len(name) + len(value) + 4 for name, value in fields)
            self.protocol._check_head(event.target, fields, size)
        return event


class LimitedH11Protocol(_Guard, H11Protocol):
    """uvicorn's h11 protocol with the limits above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _LimitedH11Connection(self)

    def data_received(self, data: bytes) -> None:
        # uvicorn stops its keep-alive timer here; handle_events does when a head is complete.
        if self.conn.their_state is h11.IDLE:
            self._reading_head = True
        self.conn.receive_data(data)
        self.handle_events()

    def handle_events(self) -> None:
        try:
            super().handle_events()
        except _Refused as refused:  # raised by _LimitedH11Connection.next_event
            self._refuse(refused)
            return
        if self.conn.their_state is h11.SEND_BODY:
            # Not after a WebSocket upgrade: the connection is no longer this protocol's.
            if not self.transport.is_closing() and self.transport.get_protocol() is self:
                self._body_expected()
        elif self._body_timer is not None:
            self._body_complete()


def http_protocol(kind: str, limits: HttpLimits) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's ``http`` setting, bound to ``limits`` and to the
    client shares of one server."""
    base = LimitedHttpToolsProtocol if kind == "httptools" else LimitedH11Protocol
    namespace = {"limits": limits, "shares": ClientShares(limits.max_connections_per_client)}
    return cast("type[asyncio.Protocol]", type(base.__name__, (base,), namespace))
