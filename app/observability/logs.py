"""One format for every log line of the process: JSON in production, text in development.

structlog renders the records of the standard library's loggers (the application's,
``auth``'s, uvicorn's) through one chain of processors, so code keeps logging with
``logging.getLogger`` and every line gets the same fields: an ISO 8601 UTC timestamp,
the level, the logger, the request id bound by ``app.observability.requests`` while a
request runs, and any ``extra`` fields. The last processor before rendering passes
every string through ``auth._redaction.redact``: a token or proof that reached a message,
a field or a traceback by mistake is replaced before the line is written.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from auth import redact

LogFormat = Literal["json", "text"]

#: Loggers whose own handlers would print a second, differently formatted line.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _drop_color_copies(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    event.pop("color_message", None)  # uvicorn's message again, with terminal colours
    return event


#: How deep ``_redacted`` follows a field's containers; anything deeper is replaced.
MAX_FIELD_NESTING = 16


def _redacted(value: object, depth: int = 0) -> object:
    """``value`` with every string in it redacted, down to ``MAX_FIELD_NESTING`` levels
    (a field built from a client's JSON is bounded where it was parsed; this walk does
    not rely on it)."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= MAX_FIELD_NESTING and isinstance(value, dict | list | tuple | set | frozenset):
        return "[nested too deeply]"
    if isinstance(value, dict):
        return {
            _redacted(key, depth + 1): _redacted(item, depth + 1) for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_redacted(item, depth + 1) for item in value)
    # Anything else is written as its repr by both renderers (structlog's fallback):
    # redacted here, since a repr can hold a token (bytes, an object's fields).
    return redact(repr(value))


def _redact_strings(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for key, value in event.items():
        # Strings and numbers, nearly every field, without a call to _redacted.
        if isinstance(value, str):
            event[key] = redact(value)
        elif value is not None and not isinstance(value, int | float):
            event[key] = _redacted(value)
    return event


def build_formatter(log_format: LogFormat, *, colors: bool = False) -> logging.Formatter:
    """A ``logging.Formatter`` that renders records as one JSON object or one text line."""
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=colors, pad_event_to=0)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become a string field, so they are redacted like the rest.
            structlog.processors.format_exc_info,
            _drop_color_copies,
            _redact_strings,
            renderer,
        ],
    )


def configure_logging(
    log_format: LogFormat, *, level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Send every logger's records to ``stream`` (stderr) in ``log_format``.

    Replaces the root logger's handlers, and makes uvicorn's loggers propagate to it
    instead of printing with their own. Called by ``python -m app`` before serving.
    """
    output = stream or sys.stderr
    handler = logging.StreamHandler(output)
    handler.setFormatter(build_formatter(log_format, colors=output.isatty()))
    root = logging.getLogger()
    for existing in root.handlers[:]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
