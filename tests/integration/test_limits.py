"""What one connection may make ``python -m app`` hold (app/server/http_limits.py, docs/limits.md),
attacked over raw sockets under both HTTP implementations."""

from __future__ import annotations

import asyncio  # feature: live
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect  # feature: live
from websockets.exceptions import ConnectionClosed, InvalidStatus  # feature: live

from auth.testing import TestIssuer
from tests.integration.conftest import (
    Server,  # feature: live
    api_env,
    receive_json,  # feature: live
)
from tests.services import ApiProcess, api_process, wait_until

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
HEAD_LIMIT = 64 * 1024  # the defaults
LINE_LIMIT = 8 * 1024


def _serve(
    issuer: TestIssuer, workdir: Path, http: str, **settings: str
) -> contextlib.AbstractContextManager[ApiProcess]:
    return api_process(
        api_env(issuer, API_HTTP=http, API_ACCESS_LOG="false", **settings), workdir=workdir
    )


@pytest.fixture(scope="module", params=["httptools", "h11"])
def api(
    request: pytest.FixtureRequest, issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """Default head limits; a 1 s header timeout and a 1 s body timeout."""
    workdir = tmp_path_factory.mktemp(f"limits-{request.param}")
    timeouts = {"API_HEADER_TIMEOUT_SECONDS": "1", "API_BODY_TIMEOUT_SECONDS": "1"}
    with _serve(issuer, workdir, request.param, **timeouts) as served:
        yield served


def _connect(api: ApiProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", api.port))
    sock.settimeout(10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _send_until_refused(api: ApiProcess, start: bytes, filler: bytes, total: int) -> bytes:
    """Send ``start``, then ``filler`` up to ``total`` bytes, then end the head; stop
    sending as soon as the server closes. Return what the server answered."""
    with _connect(api) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(start)
            for _ in range(total // len(filler)):
                sock.sendall(filler)
            sock.sendall(b"\r\n\r\n")
        return _read_all(sock)


def _request(api: ApiProcess, head: bytes) -> bytes:
    with _connect(api) as sock:
        sock.sendall(head)
        return _read_all(sock)


def _keep_alive_get(sock: socket.socket) -> bytes:
    """One request on a connection kept open, and its whole response."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return _one_response(sock)


def _one_response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body) from ``sock``."""
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(65536)
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next((int(line[15:]) for line in lines if line.startswith(b"content-length:")), 0)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response else 0


def _problem(response: bytes) -> dict[str, object]:
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    document: dict[str, object] = json.loads(body)
    return document


def _memory_kib(api: ApiProcess) -> tuple[int, int]:
    """The server's resident memory and its peak so far (VmRSS, VmHWM), in KiB."""
    fields = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{api.process.pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def _get(path: str = "/healthz", extra: bytes = b"") -> bytes:
    return (
        b"GET "
        + path.encode()
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        + extra
        + b"\r\n"
    )


def test_a_200_mib_header_value_is_refused_while_memory_stays_flat(api: ApiProcess) -> None:
    _request(api, _get(extra=b"X-Warm-Up: " + b"a" * (2 * HEAD_LIMIT) + b"\r\n"))  # warm the path
    rss_before, peak_before = _memory_kib(api)
    start = b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "
    response = _send_until_refused(api, start, b"a" * MIB, 200 * MIB)
    rss_after, peak_after = _memory_kib(api)
    assert _status(response) == 431, response[:200]
    assert _problem(response)["status"] == 431
    # The head is refused at 64 KiB: the server never holds the value. (Before the limit,
    # the same request took the server from 107 MB to 467 MB.)
    assert rss_after - rss_before < 32 * 1024
    assert peak_after - max(peak_before, rss_before) < 32 * 1024


def test_a_200_mib_request_target_is_refused_with_414(api: ApiProcess) -> None:
    response = _send_until_refused(api, b"GET /healthz?q=", b"a" * MIB, 200 * MIB)
    assert _status(response) == 414, response[:200]


def test_a_request_target_over_the_line_limit_gets_414(api: ApiProcess) -> None:
    response = _request(api, _get("/healthz?q=" + "a" * LINE_LIMIT))
    assert _status(response) == 414
    assert _problem(response)["title"]


def test_a_header_field_over_the_line_limit_gets_431(api: ApiProcess) -> None:
    response = _request(api, _get(extra=b"X-Long: " + b"a" * LINE_LIMIT + b"\r\n"))
    assert _status(response) == 431
    assert "header field" in str(_problem(response)["detail"])


def test_many_fields_over_the_head_limit_get_431_even_in_one_packet(api: ApiProcess) -> None:
    fields = b"".join(b"X-F%d: %s\r\n" % (n, b"a" * 1000) for n in range(70))
    response = _request(api, _get(extra=fields))
    assert _status(response) == 431
    assert "head" in str(_problem(response)["detail"])


def test_a_head_just_within_the_limits_is_served(api: ApiProcess) -> None:
    target = "/healthz?q=" + "a" * (LINE_LIMIT - 20)
    fields = b"X-Long: " + b"a" * (LINE_LIMIT - 20) + b"\r\n"
    head = _get(target, fields)
    filler = HEAD_LIMIT - len(head) - len(b"X-Fill: \r\n")
    fields += b"".join(b"X-F: " + b"a" * 1000 + b"\r\n" for _ in range(filler // 1007))
    head = _get(target, fields)
    head = _get(target, fields + b"X-Fill: " + b"a" * (HEAD_LIMIT - len(head) - 10) + b"\r\n")
    assert len(head) == HEAD_LIMIT
    assert _status(_request(api, head)) == 200


def test_a_huge_trailer_section_closes_the_connection_while_memory_stays_flat(
    api: ApiProcess,
) -> None:
    rss_before, _ = _memory_kib(api)
    start = (
        b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: "
    )
    response = _send_until_refused(api, start, b"a" * MIB, 200 * MIB)
    rss_after, _ = _memory_kib(api)
    # The app answers (405, without reading the body) while the trailer grows; then the
    # connection is closed.
    assert _status(response) in {0, 405}
    assert rss_after - rss_before < 32 * 1024
    assert "Traceback" not in api.output()


def test_a_head_that_trickles_in_gets_408_after_the_header_timeout(api: ApiProcess) -> None:
    with _connect(api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        answered = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(50):  # one byte every 0.1 s would last 5 s
                sock.sendall(b"X")
                time.sleep(0.1)
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    answered = sock.recv(65536)
                sock.setblocking(True)
                if answered:
                    break
        answered += _read_all(sock)
    assert _status(answered) == 408


def test_a_later_head_that_trickles_in_is_cut_off_by_the_keep_alive_timeout(
    api: ApiProcess,
) -> None:
    with _connect(api) as sock:
        sock.settimeout(None)
        assert _status(_keep_alive_get(sock)) == 200
        started = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while time.monotonic() - started < 30:  # uvicorn's keep-alive timeout is 5 s
                sock.sendall(b"X")
                time.sleep(0.2)
        # Cut off: no answer, the connection closed well before the 30 s were up.
        assert time.monotonic() - started < 30
        assert _read_all(sock) == b""


def test_an_idle_connection_is_closed_without_an_answer_after_the_header_timeout(
    api: ApiProcess,
) -> None:
    with _connect(api) as sock:
        assert _read_all(sock) == b""


@pytest.mark.parametrize(
    "head",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x\r\n\r\n",
        # Both framings at once, the start of a smuggling attempt (RFC 9112 §6.3).
        b"POST /api/todos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ],
    ids=["request-line", "field-name", "length-and-chunked"],
)
def test_a_request_that_cannot_be_parsed_gets_a_400_problem_and_the_connection_closed(
    api: ApiProcess, head: bytes
) -> None:
    answered = _request(api, head)
    assert _status(answered) == 400
    assert _problem(answered)["status"] == 400


#: Requests that HTTP parsers disagree on, or that hide one request inside another
#: (RFC 9112 §6.3, §5.2, §2.2, §7.1; PortSwigger's and Kettle's request-smuggling
#: research). Each is sent with a second, well-formed request behind it: both protocols
#: must refuse it with one 400 and close, never answer the request smuggled behind.
_POST = b"POST /healthz HTTP/1.1\r\nHost: x\r\n"
_GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
_CHUNKED = b"Transfer-Encoding: chunked\r\n"
_END = b"0\r\n\r\n"
SMUGGLING = {
    # Two framings, or one framing stated twice (RFC 9112 §6.3).
    "cl-te": _POST + b"Content-Length: 5\r\n" + _CHUNKED + b"\r\n" + _END,
    "te-cl": _POST + _CHUNKED + b"Content-Length: 5\r\n\r\n" + _END,
    "cl-cl-diff": _POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "cl-cl-same": _POST + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "cl-list": _POST + b"Content-Length: 5, 5\r\n\r\nhello",
    "cl-plus": _POST + b"Content-Length: +5\r\n\r\nhello",
    "cl-neg": _POST + b"Content-Length: -1\r\n\r\n",
    "cl-hex": _POST + b"Content-Length: 0x5\r\n\r\nhello",
    "cl-space-in": _POST + b"Content-Length: 1 2\r\n\r\nhello",
    "cl-huge": _POST + b"Content-Length: 99999999999999999999999\r\n\r\nhello",
    # Transfer codings one parser reads as chunked and another not (§6.1, §7).
    "te-identity": _POST + b"Transfer-Encoding: identity\r\n\r\n",
    "te-chunked-identity": _POST + b"Transfer-Encoding: chunked, identity\r\n\r\n" + _END,
    "te-identity-chunked": _POST + b"Transfer-Encoding: identity, chunked\r\n\r\n" + _END,
    "te-gzip-chunked": _POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + _END,
    "te-xchunked": _POST + b"Transfer-Encoding: xchunked\r\n\r\n" + _END,
    "te-two-headers": _POST + _CHUNKED + b"Transfer-Encoding: identity\r\n\r\n" + _END,
    "te-space-before-colon": _POST + b"Transfer-Encoding : chunked\r\n\r\n" + _END,
    "te-vtab": _POST + b"Transfer-Encoding:\x0bchunked\r\n\r\n" + _END,
    "te-nul": _POST + b"Transfer-Encoding: chunked\x00\r\n\r\n" + _END,
    # obs-fold (§5.2): a continuation line can hide a field inside another.
    "te-obs-fold": _POST + b"Transfer-Encoding:\r\n chunked\r\n\r\n" + _END,
    "obs-fold-hides-te": _POST
    + b"X-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
    + _END,
    "obs-fold-tab": _GET + b"X-A: b\r\n\tc\r\n\r\n",
    "leading-space-first-header": b"GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n",
    # Line ends other than CRLF (§2.2).
    "bare-lf-request-line": b"GET /healthz HTTP/1.1\nHost: x\r\n\r\n",
    "bare-lf-header": _GET + b"X-A: b\nX-B: c\r\n\r\n",
    "bare-lf-end": b"GET /healthz HTTP/1.1\r\nHost: x\n\n",
    "bare-cr-header": _GET + b"X-A: b\rX-B: c\r\n\r\n",
    # Malformed fields and request lines.
    "header-name-space": _GET + b"Bad Name: y\r\n\r\n",
    "header-no-colon": _GET + b"NoColon\r\n\r\n",
    "header-nul-value": _GET + b"X-A: a\x00b\r\n\r\n",
    "request-line-bad-version": b"GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n",
    "request-line-lowercase-http": b"GET /healthz http/1.1\r\nHost: x\r\n\r\n",
    "method-bad-char": b"G(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "target-space": b"GET /health z HTTP/1.1\r\nHost: x\r\n\r\n",
    "target-ctl": b"GET /health\x01z HTTP/1.1\r\nHost: x\r\n\r\n",
    # Chunks (§7.1): sizes, their line ends, data longer than said, trailers.
    "chunk-size-hex-prefix": _POST + _CHUNKED + b"\r\n0x2\r\nab\r\n" + _END,
    "chunk-size-overflow": _POST + _CHUNKED + b"\r\nFFFFFFFFFFFFFFFFFF\r\nab\r\n" + _END,
    "chunk-size-negative": _POST + _CHUNKED + b"\r\n-2\r\nab\r\n" + _END,
    "chunk-size-space": _POST + _CHUNKED + b"\r\n2 2\r\nab\r\n" + _END,
    "chunk-bare-lf": _POST + _CHUNKED + b"\r\n2\nab\r\n" + _END,
    "chunk-data-too-long": _POST + _CHUNKED + b"\r\n2\r\nabcd\r\n" + _END,
    "chunk-missing-crlf": _POST + _CHUNKED + b"\r\n2\r\nab0\r\n\r\n",
    "trailer-obs-fold": _POST + _CHUNKED + b"\r\n0\r\nX-T: a\r\n b\r\n\r\n",
    "trailer-bare-lf": _POST + _CHUNKED + b"\r\n0\r\nX-T: a\n\r\n",
}
SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_the_smuggling_matrix_is_refused_with_one_400_under_both_parsers(
    api: ApiProcess, name: str
) -> None:
    answered = _request(api, SMUGGLING[name] + SMUGGLED)
    assert _status(answered) == 400, answered[:200]
    assert _problem(answered)["status"] == 400
    assert answered.count(b"HTTP/1.1 ") == 1  # the request behind it was never read


@pytest.mark.parametrize(
    "head",
    [
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2;ext=1\r\n{}\r\n0\r\nX-Trailer: a\tb\r\n\r\n",
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked \r\n\r\n0\r\n\r\n",
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Tab: a\tb\r\nX-Empty:\r\n\r\n",
    ],
    ids=["chunked-with-trailer", "chunked-any-case", "content-length", "tab-in-value"],
)
def test_what_both_parsers_accept_is_still_served_under_both(api: ApiProcess, head: bytes) -> None:
    answered = _request(api, head + SMUGGLED)
    assert _status(answered) in {200, 405}, answered[:200]
    assert answered.count(b"HTTP/1.1 ") == 2  # and the next request on the connection


def _trickle_body(api: ApiProcess, head: bytes, seconds: float) -> tuple[bytes, float]:
    """Send ``head`` and then a body a byte every 0.1 s for up to ``seconds``; return what
    the server sent until it closed the connection, and when it closed it."""
    started = time.monotonic()
    answered = b""
    with _connect(api) as sock:
        sock.sendall(head + b"{")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while time.monotonic() - started < seconds:
                time.sleep(0.1)
                sock.sendall(b" ")
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    chunk = sock.recv(65536)
                    answered += chunk
                    if not chunk:
                        break  # closed
                sock.setblocking(True)
        sock.setblocking(True)
        answered += _read_all(sock)
    return answered, time.monotonic() - started


def _post_head(token: str | None, length: int, path: str = "/api/todos") -> bytes:
    authorization = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        + b"Content-Type: application/json\r\n"
        + authorization
        + f"Content-Length: {length}\r\n\r\n".encode()
    )


def test_a_body_that_trickles_in_gets_408_after_the_body_timeout(
    api: ApiProcess, issuer: TestIssuer
) -> None:
    head = _post_head(issuer.token("body-trickler"), 10_000)
    answered, closed_after = _trickle_body(api, head, seconds=20)
    assert _status(answered) == 408
    assert _problem(answered)["status"] == 408
    assert closed_after < 10  # the 1 s timeout, not the client, ended it
    assert "Traceback" not in api.output()


def test_a_body_left_unread_after_an_answer_does_not_hold_the_connection(
    api: ApiProcess,
) -> None:
    # Answered without its body being read (no POST on /healthz): the 405 is the only
    # answer, and the connection does not stay open while the client sends (uvicorn
    # closes it; the body timer would, without a second answer).
    head = _post_head(None, 10_000, path="/healthz")
    answered, closed_after = _trickle_body(api, head, seconds=20)
    assert _status(answered) == 405
    assert answered.count(b"HTTP/1.1 ") == 1
    assert closed_after < 10


def test_a_body_that_arrives_in_time_is_served_on_a_kept_alive_connection(
    api: ApiProcess, issuer: TestIssuer
) -> None:
    body = b'{"text": "slow but in time"}'
    with _connect(api) as sock:
        for _ in range(2):
            sock.sendall(_post_head(issuer.token("body-in-time"), len(body)) + body[:5])
            time.sleep(0.5)  # within the 1 s body timeout
            sock.sendall(body[5:])
            response = b""
            while b"slow but in time" not in response:
                chunk = sock.recv(65536)
                assert chunk, response
                response += chunk
            assert _status(response) == 201
            time.sleep(1.5)  # the body timer of a completed request never fires


# feature: live begin
async def test_a_websocket_outlives_the_body_timeout_of_its_upgrade_request(
    api: ApiProcess, issuer: TestIssuer
) -> None:
    server = Server(api, issuer)
    async with server.socket(issuer.token("ws-body-timeout")) as live:
        assert (await receive_json(live))["type"] == "ready"
        await asyncio.sleep(2.5)  # past the 1 s body timeout
        await live.send(json.dumps({"type": "ping"}))
        assert (await receive_json(live))["type"] == "pong"


# feature: live end


def test_a_keep_alive_connection_is_held_to_the_limits_on_every_request(api: ApiProcess) -> None:
    with _connect(api) as sock:
        first = _keep_alive_get(sock)
        sock.sendall(_get(extra=b"X-Long: " + b"a" * LINE_LIMIT + b"\r\n"))
        second = _read_all(sock)
    assert _status(first) == 200
    assert _status(second) == 431


# -- Connections ---------------------------------------------------------------------

CONNECTION_LIMIT = 4


@pytest.fixture(scope="module", params=["httptools", "h11"])
def capped(
    request: pytest.FixtureRequest, issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    workdir = tmp_path_factory.mktemp(f"capped-{request.param}")
    settings = {"API_MAX_CONNECTIONS": str(CONNECTION_LIMIT), "API_HEADER_TIMEOUT_SECONDS": "30"}
    with _serve(issuer, workdir, request.param, **settings) as served:
        yield served


def _served_on_a_new_connection(api: ApiProcess) -> bool:
    return _status(_request(api, _get())) == 200


async def test_connections_beyond_the_limit_get_503_and_those_within_are_served(
    capped: ApiProcess, issuer: TestIssuer
) -> None:
    wait_until(lambda: _served_on_a_new_connection(capped), timeout=10, what="a free slot")
    held = [_connect(capped) for _ in range(CONNECTION_LIMIT)]
    try:
        assert all(_status(_keep_alive_get(sock)) == 200 for sock in held)
        refused = _request(capped, _get())
        assert _status(refused) == 503
        assert b"retry-after: 1" in refused.lower()
        assert _problem(refused)["status"] == 503
        # feature: live begin
        ws_url = capped.base_url.replace("http://", "ws://") + "/api/ws"
        token = issuer.token("capped")
        with pytest.raises(InvalidStatus) as upgrade:
            async with connect(ws_url, subprotocols=["todo.v1", f"authorization_bearer_{token}"]):  # type: ignore[list-item]
                pass
        assert upgrade.value.response.status_code == 503
        # feature: live end
        assert _status(_keep_alive_get(held[0])) == 200  # the connections within stay served
    finally:
        for sock in held:
            sock.close()
    # Once the held connections are gone, newcomers are served again.
    wait_until(lambda: _served_on_a_new_connection(capped), timeout=10, what="a freed slot")


# feature: live begin
# -- Live sockets --------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_capped(issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("live-capped")
    settings = {"LIVE_MAX_SOCKETS_PER_USER": "2", "LIVE_MAX_SOCKETS": "3"}
    with _serve(issuer, workdir, "httptools", **settings) as served:
        yield Server(served, issuer)


async def _ready(server: Server, stack: contextlib.AsyncExitStack, subject: str) -> None:
    live = await stack.enter_async_context(server.socket(server.issuer.token(subject)))
    assert (await receive_json(live))["type"] == "ready"


async def _refused(server: Server, subject: str) -> str:
    async with server.socket(server.issuer.token(subject)) as live:
        with pytest.raises(ConnectionClosed) as closed:
            await receive_json(live)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013
    return closed.value.rcvd.reason


async def test_sockets_beyond_the_per_user_and_total_limits_are_closed_1013(
    live_capped: Server,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        await _ready(live_capped, stack, "ws-many")
        await _ready(live_capped, stack, "ws-many")
        assert "this user" in await _refused(live_capped, "ws-many")
        await _ready(live_capped, stack, "ws-other")
        assert "the server" in await _refused(live_capped, "ws-third")
    # Closed sockets give their places back (once the server has seen them close).
    for _ in range(50):
        async with contextlib.AsyncExitStack() as stack:
            with contextlib.suppress(ConnectionClosed):
                for subject in ("ws-third", "ws-many", "ws-many"):
                    await _ready(live_capped, stack, subject)
                return
        await asyncio.sleep(0.1)
    pytest.fail("the closed sockets' places were not given back")


# feature: live end


# -- Clients that do not read, and clients that take every place -------------------

BUNDLE = b"GET /static/docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
HELD = 6


@pytest.fixture(scope="module", params=["httptools", "h11"])
def deadline(
    request: pytest.FixtureRequest, issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """Room for HELD connections, and a 1 s send deadline."""
    workdir = tmp_path_factory.mktemp(f"deadline-{request.param}")
    settings = {
        "API_MAX_CONNECTIONS": str(HELD),
        "API_SEND_TIMEOUT_SECONDS": "1",
        "API_HEADER_TIMEOUT_SECONDS": "30",
    }
    with _serve(issuer, workdir, request.param, **settings) as served:
        yield served


def _non_reader(api: ApiProcess, request: bytes, *, source: str = "127.0.0.1") -> socket.socket:
    """A client with a tiny receive buffer that sends ``request`` and never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", api.port))
    sock.sendall(request)
    return sock


def test_clients_that_never_read_lose_their_connections_to_the_send_deadline(
    deadline: ApiProcess,
) -> None:
    wait_until(lambda: _served_on_a_new_connection(deadline), timeout=10, what="a free slot")
    # Four bundles pipelined: more than the kernel's buffers take, so the rest waits in
    # the server's transport for a read that never comes.
    held = [_non_reader(deadline, BUNDLE * 4) for _ in range(HELD)]
    try:
        time.sleep(0.5)  # the answers are written as far as the clients let them
        assert _status(_request(deadline, _get())) == 503  # every place is held
        started = time.monotonic()
        # uvicorn waited on drain() for ever (a fresh client got 503 after 25 s): the
        # 1 s deadline gives the places back within 1.5 s of the clients' last read.
        wait_until(lambda: _served_on_a_new_connection(deadline), timeout=10, what="a freed slot")
        assert time.monotonic() - started < 5
    finally:
        for sock in held:
            sock.close()
    assert "the client read nothing" in deadline.output()


def test_a_slow_reader_that_keeps_reading_is_served_to_the_end(deadline: ApiProcess) -> None:
    wait_until(lambda: _served_on_a_new_connection(deadline), timeout=10, what="a free slot")
    sock = _non_reader(deadline, BUNDLE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    sock.settimeout(10)
    received = b""
    pauses = 0
    with sock:
        while chunk := sock.recv(64 * 1024):
            received += chunk
            # Now and then a pause shorter than the deadline, then on: a slow client.
            if len(received) > (pauses + 1) * 32 * 1024 and pauses < 6:
                pauses += 1
                time.sleep(0.7)
    head, _, body = received.partition(b"\r\n\r\n")
    assert _status(head) == 200
    length = next(
        int(line[15:])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    assert len(body) == length


PER_CLIENT = 3


@pytest.fixture(scope="module", params=["httptools", "h11"])
def shared(
    request: pytest.FixtureRequest, issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiProcess]:
    """Three connections per client; 127.0.0.3 is a trusted proxy."""
    workdir = tmp_path_factory.mktemp(f"shared-{request.param}")
    settings = {
        "API_MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
        "API_HEADER_TIMEOUT_SECONDS": "30",
        "OIDC_TRUSTED_PROXIES": "127.0.0.3/32",
    }
    with _serve(issuer, workdir, request.param, **settings) as served:
        yield served


def _from(api: ApiProcess, source: str) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", api.port))
    return sock


def _served_from(api: ApiProcess, source: str) -> bool:
    with _from(api, source) as sock:
        return _get_via(sock) == 200


def _get_via(sock: socket.socket, forwarded: bytes = b"") -> int:
    sock.sendall(_get(extra=forwarded).replace(b"Connection: close\r\n", b""))
    return _status(_one_response(sock))


def test_a_client_holding_its_share_is_refused_while_other_clients_are_served(
    shared: ApiProcess,
) -> None:
    held = [_from(shared, "127.0.0.1") for _ in range(PER_CLIENT)]
    try:
        assert [_get_via(sock) for sock in held] == [200] * PER_CLIENT
        with _from(shared, "127.0.0.1") as fourth:
            fourth.sendall(_get())
            refused = _read_all(fourth)
        assert _status(refused) == 503
        assert "share" in str(_problem(refused)["detail"])
        with _from(shared, "127.0.0.2") as other:
            assert _get_via(other) == 200  # another client is served
    finally:
        for sock in held:
            sock.close()
    wait_until(lambda: _served_from(shared, "127.0.0.1"), timeout=10, what="a share given back")


def test_behind_a_trusted_proxy_the_share_is_the_forwarded_clients(shared: ApiProcess) -> None:
    alice = b"X-Forwarded-For: 203.0.113.9, 198.51.100.7\r\n"  # the proxy added the last
    bob = b'Forwarded: for="[2001:db8::1]:4711"\r\n'
    held = [_from(shared, "127.0.0.3") for _ in range(PER_CLIENT)]
    try:
        assert [_get_via(sock, alice) for sock in held] == [200] * PER_CLIENT
        with _from(shared, "127.0.0.3") as again:
            assert _get_via(again, alice) == 503
        with _from(shared, "127.0.0.3") as other:
            assert _get_via(other, bob) == 200
        # A peer that is not a trusted proxy is counted as itself, whatever it forwards.
        with _from(shared, "127.0.0.4") as untrusted:
            assert _get_via(untrusted, alice) == 200
        # A proxy's connection counts for the client of its latest request.
        assert _get_via(held[0], bob) == 200
        with _from(shared, "127.0.0.3") as freed:
            assert _get_via(freed, alice) == 200
    finally:
        for sock in held:
            sock.close()


# feature: live begin
def _masked_text_frame(text: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(text))
    return bytes([0x81, 0x80 | len(text)]) + mask + masked


@pytest.fixture(scope="module")
def one_place(issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("one-place")
    settings = {
        "API_MAX_CONNECTIONS": "1",
        "API_SEND_TIMEOUT_SECONDS": "1",
        "WS_PING_INTERVAL_SECONDS": "60",  # the deadline, not the heartbeat, must act
        "WS_PING_TIMEOUT_SECONDS": "60",
    }
    with _serve(issuer, workdir, "httptools", **settings) as served:
        yield Server(served, issuer)


def test_a_websocket_whose_client_never_reads_loses_its_connection(one_place: Server) -> None:
    from tests.integration.conftest import raw_upgrade

    api = one_place.api
    wait_until(lambda: _served_on_a_new_connection(api), timeout=10, what="a free slot")
    sock = raw_upgrade(one_place, one_place.issuer.token("never-reads"), receive_buffer=1024)
    try:
        sock.settimeout(0.5)
        ping = _masked_text_frame(b'{"type": "ping"}')
        with contextlib.suppress(TimeoutError, BlockingIOError):
            for _ in range(50_000):  # pongs pile up on the server's side, unread
                sock.sendall(ping * 64)
        assert _status(_request(api, _get())) == 503  # the socket holds the one place
        started = time.monotonic()
        wait_until(lambda: _served_on_a_new_connection(api), timeout=10, what="a freed slot")
        assert time.monotonic() - started < 5
    finally:
        sock.close()


@pytest.fixture(scope="module")
def proof_budget(issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("proof-budget")
    settings = {
        "LIVE_MAX_SOCKETS_PER_USER": "2",
        "LIVE_MAX_UNPROVEN_SOCKETS_PER_CLIENT": "3",
        "LIVE_PROOF_TIMEOUT_SECONDS": "5",
    }
    with _serve(issuer, workdir, "httptools", **settings) as served:
        yield Server(served, issuer)


async def test_a_token_without_its_key_cannot_take_its_owners_sockets(
    proof_budget: Server,
) -> None:
    """Whoever holds only a DPoP-bound token opens sockets that never prove anything:
    they wait in the budget of unproven sockets, not in the owner's, so the owner, who
    has the key, still gets ready; and one client holds a few unproven sockets at most."""
    from auth.testing import DpopKey

    server = proof_budget
    key = DpopKey()
    token = server.issuer.token("dpop-owner", dpop_key=key)
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):  # the thief: the owner's cap is 2
            await stack.enter_async_context(server.socket(token))
        await asyncio.sleep(0.3)
        async with server.socket(token) as over_budget:
            with pytest.raises(ConnectionClosed) as closed:
                await receive_json(over_budget)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, "awaiting a proof" in closed.value.rcvd.reason) == (
            1013,
            True,
        )
        # The owner, from another address, proves the key: the thief's sockets are not
        # the owner's.
        for _ in range(2):
            elsewhere = socket.socket()
            elsewhere.bind(("127.0.0.2", 0))
            elsewhere.connect(("127.0.0.1", server.api.port))
            owner = await stack.enter_async_context(
                connect(
                    server.ws_url,
                    sock=elsewhere,
                    subprotocols=["todo.v1", f"authorization_bearer_{token}"],  # type: ignore[list-item]
                )
            )
            proof = key.proof("GET", f"{server.url}/api/ws", access_token=token)
            await owner.send(json.dumps({"type": "auth.dpop", "proof": proof}))
            assert (await receive_json(owner))["type"] == "ready"


# feature: live end
