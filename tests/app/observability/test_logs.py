"""One format for every log line (app.observability.logs): fields, order, no token."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import structlog

from app.observability.logs import LogFormat, build_formatter

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
