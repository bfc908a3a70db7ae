"""One format for every log line (app.observability.logs): fields, order, no token."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import logging
import re
import sys
from typing import Any

import pytest
import structlog

from app.observability.log_lines import iso_utc
from app.observability.logs import (
    REQUEST_ID,
    LineHandler,
    LogFormat,
    build_formatter,
    configure_logging,
    log_fields,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


def render(log_format: LogFormat, record: logging.LogRecord) -> str:
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        return build_formatter(log_format).format(record)


def record(
    msg: str, *args: object, extra: dict[str, Any] | None = None, with_exception: bool = False
) -> logging.LogRecord:
    exc_info = sys.exc_info() if with_exception else None
    return logging.getLogger("app.access").makeRecord(
        "app.access", logging.WARNING, __file__, 1, msg, args, exc_info, extra=extra
    )


def test_a_json_line_has_the_context_the_record_and_its_fields_in_order() -> None:
    fields = {"method": "GET", "route": "/caf\u00e9", "status": 503, "duration_ms": 1.5}
    rendered = render("json", record("request %s", "done", extra=fields))
    line = json.loads(rendered)
    # Byte for byte what json.dumps writes (", " and ": ", ASCII): log searches rely on it.
    assert rendered == json.dumps(line)
    assert list(line) == [
        "event",
        "request_id",
        "level",
        "logger",
        *fields,
        "timestamp",
    ]
    assert (line["event"], line["request_id"], line["level"]) == ("request done", "r-1", "warning")
    assert {key: line[key] for key in fields} == fields
    assert line["timestamp"].endswith("Z")


def fail_with_a_token() -> None:
    raise ValueError(f"bad token {JWT}")


def test_a_token_in_a_message_a_field_or_a_traceback_is_not_written() -> None:
    try:
        fail_with_a_token()
    except ValueError:
        refused = record(
            "GET /?access_token=%s", "opaque", extra={"auth": f"Bearer {JWT}"}, with_exception=True
        )
    formats: tuple[LogFormat, ...] = ("json", "text")
    for log_format in formats:
        output = render(log_format, refused)
        assert JWT not in output
        assert "opaque" not in output
        assert "[redacted-jwt]" in output
    assert "Traceback" in json.loads(render("json", refused))["exception"]


class Credentials:
    def __repr__(self) -> str:
        return f"Credentials(token={JWT!r})"


def test_a_token_nested_in_a_field_or_in_a_repr_is_not_written() -> None:
    nested = record(
        "refused",
        extra={
            "headers": [("authorization", f"Bearer {JWT}")],
            "claims": {"nested": {f"key {JWT}": [JWT]}},
            "raw": JWT.encode(),
            "credentials": Credentials(),
        },
    )
    formats: tuple[LogFormat, ...] = ("json", "text")
    for log_format in formats:
        output = render(log_format, nested)
        assert JWT not in output, output
        assert output.count("[redacted") == 5, output  # one per token, whichever rule caught it


#: Field values the access line can carry, and a few it never does, to hold the line
#: written without a record to the chain's, byte for byte.
AWKWARD_FIELDS: list[dict[str, Any]] = [
    {"method": "GET", "route": "/api/me", "path": "/api/me", "status": 200, "duration_ms": 1.5},
    {"route": None, "path": "/a b?x=[redacted]", "status": 500, "duration_ms": 0.0},
    {"path": "/quote'\"and=equals\ttab\nline", "subject": "caf\u00e9 \u2603 \ud83d\ude00"},
    {"path": f"/t/{JWT}", "query": "access_token=secret&dpop=proof", "n": 10**30},
    {"ok": True, "no": False, "tiny": 1e-07, "big": 1e22, "negative": -3, "empty": ""},
    {"control": "\x00\x1b[31m\x7f", "backslash": "a\\b", "event_like": "request"},
]


def normalised(line: str) -> str:
    """The line with its time stamp replaced: two renderings happen at two instants."""
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", "<time>", line)


@pytest.mark.parametrize("log_format", ["json", "text"])
@pytest.mark.parametrize("varying", [(), ("path", "duration_ms", "subject"), ("event_like", "ok")])
def test_a_line_of_fields_is_the_line_the_chain_writes_for_a_record(
    log_format: LogFormat, varying: tuple[str, ...]
) -> None:
    formatter = build_formatter(log_format)
    for fields in AWKWARD_FIELDS:
        # The line after a first one of the same kind: made of what that one left.
        others = {key: value for key, value in AWKWARD_FIELDS[0].items() if key in fields}
        for level in (logging.INFO, logging.WARNING):
            for tenant in ("t1", "t 2"):
                with structlog.contextvars.bound_contextvars(request_id="r-1", tenant=tenant):
                    formatter.line("app.access", level, "request", {**fields, **others})
                    direct = formatter.line(
                        "app.access", level, "request", fields, frozenset(varying)
                    )
                    chained = formatter.format(
                        logging.getLogger("app.access").makeRecord(
                            "app.access", level, __file__, 1, "request", (), None, extra=fields
                        )
                    )
                assert direct is not None
                assert normalised(direct) == normalised(chained), (fields, direct, chained)
                assert JWT not in direct
                assert "secret" not in direct


def test_values_only_the_chain_renders_are_left_to_it() -> None:
    text_only: tuple[dict[str, object], ...] = (
        {"headers": [("a", "b")]},
        {"raw": b"x"},
        {"exception": "x"},
    )
    for fields in text_only:
        assert build_formatter("text").line("app.access", logging.INFO, "e", fields) is None
    json_only: tuple[dict[str, object], ...] = (
        {"headers": [("a", "b")]},
        {"raw": b"x"},
        {"nan": float("nan")},
    )
    for json_fields in json_only:
        assert build_formatter("json").line("app.access", logging.INFO, "e", json_fields) is None
    assert build_formatter("text", colors=True).line("a", logging.INFO, "e", {}) is None


def test_the_time_stamp_is_the_one_structlog_writes() -> None:
    for moment in (0, 1_765_000_000_000_000, 1_765_000_000_123_456, 1_765_000_001_000_001):
        expected = datetime.datetime.fromtimestamp(moment / 1e6, datetime.UTC).isoformat()
        assert iso_utc(moment) == expected.replace("+00:00", "Z")


def test_fields_go_straight_to_the_configured_stream_or_through_logging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = io.StringIO()
    logger = logging.getLogger("app.access")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("json", stream=stream)
        log_fields(logger, logging.INFO, "request", {"status": 200})
        logger.info("request", extra={"status": 200})
        direct, chained = stream.getvalue().splitlines()
        assert normalised(direct) == normalised(chained)
        # Another handler on the way (here pytest's capture): logging as usual.
        root.addHandler(caplog.handler)
        log_fields(logger, logging.INFO, "request", {"status": 201})
        root.removeHandler(caplog.handler)
        assert [record.status for record in caplog.records] == [201]  # type: ignore[attr-defined]
        assert len(stream.getvalue().splitlines()) == 3
        log_fields(logger, logging.DEBUG, "request", {"status": 202})  # below the level
        assert len(stream.getvalue().splitlines()) == 3
    finally:
        root.handlers[:], root.level = saved[0], saved[1]


async def test_lines_written_on_the_loop_go_out_together_in_order() -> None:
    stream = io.StringIO()
    handler = LineHandler(stream)
    handler.setFormatter(build_formatter("json"))
    logger = logging.getLogger("tests.lines")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        token = REQUEST_ID.set("r-1")
        # Fields made when the line is rendered; the request id is the one of the write.
        log_fields(logger, logging.INFO, "first", lambda: {"n": 1})
        REQUEST_ID.reset(token)
        assert stream.getvalue() == ""  # nothing before the loop's round ends...
        logger.info("second")  # ...or a line through the chain comes, written at once
        assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == [
            "first",
            "second",
        ]
        with structlog.contextvars.bound_contextvars(tenant="t 1"):
            log_fields(logger, logging.WARNING, "third", {"n": 3}, varying=frozenset({"n"}))
            token = REQUEST_ID.set("r-4")
            log_fields(logger, logging.INFO, "fourth", {"items": [1, 2]})  # the chain's
            REQUEST_ID.reset(token)
        assert len(stream.getvalue().splitlines()) == 2
        await asyncio.sleep(0)
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        assert [line["event"] for line in lines] == ["first", "second", "third", "fourth"]
        assert (lines[2]["tenant"], lines[3]["tenant"]) == ("t 1", "t 1")
        assert (lines[3]["request_id"], lines[3]["items"]) == ("r-4", [1, 2])
        assert (lines[0]["request_id"], lines[0]["n"]) == ("r-1", 1)
        assert "request_id" not in lines[1]
        assert lines[2]["level"] == "warning"
        # Off the loop (another thread, a script), a line is written at once.
        await asyncio.to_thread(logger.info, "off the loop")
        assert json.loads(stream.getvalue().splitlines()[-1])["event"] == "off the loop"
        log_fields(logger, logging.INFO, "fifth", {})
        handler.flush()  # what logging.shutdown does at exit
        assert json.loads(stream.getvalue().splitlines()[-1])["event"] == "fifth"
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


async def test_a_round_of_more_than_max_pending_lines_is_written_as_it_goes() -> None:
    stream = io.StringIO()
    handler = LineHandler(stream)
    handler.setFormatter(build_formatter("text"))
    logger = logging.getLogger("tests.lines.many")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for n in range(LineHandler.MAX_PENDING):
            log_fields(logger, logging.INFO, "line", {"n": n}, varying=frozenset({"n"}))
        assert len(stream.getvalue().splitlines()) == LineHandler.MAX_PENDING
        assert stream.getvalue().splitlines()[-1].endswith(f"n={LineHandler.MAX_PENDING - 1}")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_deeply_nested_field_is_written_without_walking_it_all() -> None:
    # A field's containers are followed 16 levels deep, on any interpreter: a value
    # nested 5,000 deep (what Python 3.13's json.loads returns) is cut, not a crash.
    deep: list[Any] = [JWT]
    for _ in range(5000):
        deep = [deep]
    for log_format in ("json", "text"):
        output = render(log_format, record("deep", extra={"value": deep, "other": [JWT]}))
        assert "[nested too deeply]" in output
        assert JWT not in output
