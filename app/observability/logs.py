"""One format for every log line of the process: JSON in production, text in development.

structlog renders the records of the standard library's loggers (the application's,
``auth``'s, uvicorn's) through one chain of processors, so code keeps logging with
``logging.getLogger`` and every line gets the same fields: an ISO 8601 UTC timestamp,
the level, the logger, the request id set by ``app.observability.requests`` while a
request runs (``REQUEST_ID``), and any ``extra`` fields. The last processor before
rendering passes every string through ``auth.redact``: a token or proof that reached a
message, a field or a traceback by mistake is replaced before the line is written.

``log_fields`` writes a line of fields (the access line, once per request) without a
``LogRecord``: the standard library's record, handler chain and structlog's copy of the
record cost several times the line itself (bench/README.md, "What observing a request
costs"). The line is the one the chain would write, byte for byte, through the same
redaction; a test holds the two paths to that.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import time
from collections.abc import Callable, Hashable
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from app.observability.log_lines import (
    ConsoleLines,
    JsonLines,
    LineRenderer,
    Template,
    iso_utc,
    utc_now,
)
from auth import redact

LogFormat = Literal["json", "text"]

#: The id of the request being served, added to every line written while it runs.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

#: Loggers whose own handlers would print a second, differently formatted line.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _add_request_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


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


class LineFormatter(structlog.stdlib.ProcessorFormatter):
    """structlog's ``ProcessorFormatter`` with this module's chain, which can also render
    a line straight from its fields (``line``)."""

    def __init__(self, log_format: LogFormat, *, colors: bool = False) -> None:
        renderer: Processor = (
            structlog.processors.JSONRenderer()
            if log_format == "json"
            else structlog.dev.ConsoleRenderer(colors=colors, pad_event_to=0)
        )
        super().__init__(
            foreign_pre_chain=[
                _add_request_id,
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
        # Colours are for a terminal, where a few microseconds per line do not matter:
        # that renderer is only ever reached through the chain.
        self._lines: LineRenderer | None = (
            JsonLines() if log_format == "json" else None if colors else ConsoleLines()
        )
        self._varying: dict[frozenset[str], frozenset[str]] = {}
        self._kinds: dict[tuple[Any, ...], Template | None] = {}

    def line(
        self,
        logger: str,
        level: int,
        event: str,
        fields: dict[str, Any],
        varying: frozenset[str] = frozenset(),
        *,
        microseconds: int | None = None,
        bound: tuple[str | None, dict[str, Any]] | None = None,
    ) -> str | None:
        """The line ``format`` gives a record of ``logger`` at ``level`` with message
        ``event`` and ``extra=fields``, stamped ``microseconds`` after the epoch (now
        by default), with the request id and the structlog variables ``bound`` (as
        ``bound_now()`` gave them; those of the current context by default). None when
        only the chain can render it (a coloured console, or a value that is not a
        string, number or None). The values of ``varying`` fields change from line to
        line, the others tend to repeat."""
        if self._lines is None:
            return None
        request_id, variables = bound_now() if bound is None else bound
        # The fields in the order the chain adds them (see __init__).
        entry: dict[str, Any] = {"event": event}
        if request_id is not None:
            entry["request_id"] = request_id
        for name, value in variables.items():
            entry.setdefault(name, value)  # as merge_contextvars does
        entry["level"] = _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower()
        entry["logger"] = logger
        entry.update(fields)  # as ExtraAdder does
        entry["timestamp"] = iso_utc(microseconds) if microseconds is not None else utc_now()
        every_varying = self._varying.get(varying)
        if every_varying is None:
            every_varying = self._varying[varying] = varying | _ALWAYS_VARYING
        return self._lines.render(entry, every_varying)

    def kind_line(
        self,
        logger: str,
        level: int,
        event: str,
        fields: FieldsOfKind,
        *,
        microseconds: int,
        bound: tuple[str | None, dict[str, Any]],
    ) -> str | None:
        """``line`` for ``fields()``, from a template kept per kind of line (the
        values that shape it, ``fields.shape()``); None when ``line`` must do it."""
        request_id, variables = bound
        if self._lines is None or variables:
            return None
        shape, values = fields.shape()
        key = (logger, level, event, request_id is None, shape)
        if key in self._kinds:
            template = self._kinds[key]
        elif len(self._kinds) < _MAX_KINDS:
            template = self._kinds[key] = self._kind_template(
                self._lines, logger, level, event, fields, request_id=request_id
            )
        else:
            return None  # more kinds than it keeps: ``line`` has bounds of its own
        if template is None:
            return None
        return template.fill((iso_utc(microseconds), request_id, *values))

    @staticmethod
    def _kind_template(
        lines: LineRenderer,
        logger: str,
        level: int,
        event: str,
        fields: FieldsOfKind,
        *,
        request_id: str | None,
    ) -> Template | None:
        made = fields()
        entry: dict[str, Any] = {"event": event}
        if request_id is not None:
            entry["request_id"] = request_id
        entry["level"] = _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower()
        entry["logger"] = logger
        entry.update(made)
        entry["timestamp"] = ""
        order = ("timestamp", "request_id", *fields.varying)
        varying = frozenset(order) & set(entry)
        return lines.template(entry, varying, order)

    @property
    def renders_lines(self) -> bool:
        """Whether ``line`` can render anything (not for a coloured console)."""
        return self._lines is not None


def bound_now() -> tuple[str | None, dict[str, Any]]:
    """The request id and structlog's variables of the current context, as the chain's
    ``_add_request_id`` and ``merge_contextvars`` would add them to a line now. structlog
    keeps one ``ContextVar`` per name ever bound: while there is none, nothing else of
    the context is read (``merge_contextvars`` walks all of it)."""
    if not getattr(structlog.contextvars, "_CONTEXT_VARS", True):
        return REQUEST_ID.get(), _NOTHING_BOUND
    return REQUEST_ID.get(), dict(structlog.contextvars.merge_contextvars(None, "", {}))


class FieldsOfKind:
    """The fields of a line of which many are written (the access line), as a function
    that makes them, and as what ``LineFormatter`` needs to render the line from a
    template without making them: ``shape()`` gives (a hashable value that fixes every
    field but the ``varying`` ones, the values of the ``varying`` fields in that order).
    Two calls whose shapes are equal must make the same fields apart from those; a
    varying field absent from the line must be part of the shape."""

    __slots__ = ()
    #: The names of the fields whose values ``shape`` gives, in that order.
    varying: tuple[str, ...] = ()

    def __call__(self) -> dict[str, Any]:
        raise NotImplementedError

    def shape(self) -> tuple[Hashable, tuple[Any, ...]]:
        raise NotImplementedError


#: Kinds of lines (shapes) whose template a formatter keeps.
_MAX_KINDS = 1024
_NOTHING_BOUND: dict[str, Any] = {}
#: Values of the chain's own that change from line to line.
_ALWAYS_VARYING = frozenset({"timestamp", "request_id"})
_LEVEL_NAMES = {logging.INFO: "info", logging.WARNING: "warning"}

#: The fields of a line, or a function that makes them when the line is rendered.
Fields = dict[str, Any] | Callable[[], dict[str, Any]]
#: A line of fields to render with the lines around it: what ``bound_now`` gave when it
#: was logged, its logger's name, level, event, fields, varying fields, time (us).
_Fields = tuple[tuple[str | None, dict[str, Any]], str, int, str, Fields, frozenset[str], int]


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure_logging`` installs: a ``StreamHandler`` whose lines of
    fields (``write_fields``: the access line), written on an event loop, are gathered
    and rendered and written together once the loop's current round of callbacks is
    done; elsewhere (another thread, no loop) at once. Every other line (a record
    through the chain: start-up, warnings, errors) is written at once, after the lines
    waiting before it, so a process that dies just after logging loses none of those.

    One write per line was the largest cost of an access line: a system call each; and
    lines rendered one after the other cost a third of lines rendered each amid a
    request's work (measured; the processor's caches stay warm). Lines keep their
    order. What waits is at most one round of the loop, or ``MAX_PENDING`` lines;
    ``flush`` (called by ``logging.shutdown`` at exit) writes it out. The write blocks
    as ``StreamHandler``'s does: a destination that stops reading stops the loop rather
    than lines being dropped or held without bound (docs/operations.md)."""

    MAX_PENDING = 256

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._pending: list[str | _Fields] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._add(self.format(record), at_once=True)
        except RecursionError:  # as StreamHandler.emit
            raise
        except Exception:
            self.handleError(record)

    def write_fields(
        self,
        logger: str,
        level: int,
        event: str,
        fields: Fields,
        varying: frozenset[str],
    ) -> None:
        """Write the line of ``fields`` (``LineFormatter.line``), now or with the others,
        as it would have been written now: the time, the request id and structlog's
        variables are taken here."""
        now = time.time_ns() // 1000
        self._add((bound_now(), logger, level, event, fields, varying, now))

    def _add(self, line: str | _Fields, *, at_once: bool = False) -> None:
        with self.lock:  # type: ignore[union-attr]
            pending = self._pending
            pending.append(line)
            if not at_once and 1 < len(pending) < self.MAX_PENDING:
                return  # a flush is already scheduled
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if at_once or loop is None or len(pending) >= self.MAX_PENDING:
                self._write_pending()
            else:
                loop.call_soon(self._flush_now)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
            super().flush()

    def _flush_now(self) -> None:
        # Called by the event loop: a failing stream is reported as logging reports
        # a failing emit, not raised into the loop (whose report would be logged here).
        if not self._pending:
            return  # written already, with a line that could not wait
        try:
            self.flush()
        except Exception:
            lost = logging.LogRecord(
                __name__, logging.ERROR, __file__, 0, "log lines lost", (), None
            )
            self.handleError(lost)

    def _write_pending(self) -> None:
        if not self._pending or self.stream is None:
            return
        lines = [line if isinstance(line, str) else self._render(line) for line in self._pending]
        self._pending.clear()
        self.stream.write(self.terminator.join(line for line in lines if line) + self.terminator)
        if hasattr(self.stream, "flush"):
            self.stream.flush()

    def _render(self, pending: _Fields) -> str | None:
        bound, logger, level, event, fields, varying, microseconds = pending
        formatter = self.formatter
        if isinstance(fields, FieldsOfKind) and isinstance(formatter, LineFormatter):
            line = formatter.kind_line(
                logger, level, event, fields, microseconds=microseconds, bound=bound
            )
            if line is not None:
                return line
        if callable(fields):
            fields = fields()
        if isinstance(formatter, LineFormatter):
            line = formatter.line(
                logger, level, event, fields, varying, microseconds=microseconds, bound=bound
            )
            if line is not None:
                return line
        # What only the chain renders: a record as logging would have made it, formatted
        # in a context holding what was bound when it was written.
        record = logging.LogRecord(logger, level, __file__, 0, event, (), None)
        record.__dict__.update(fields)
        record.created = microseconds / 1e6
        try:
            return contextvars.Context().run(self._format_bound, record, bound)
        except Exception:
            self.handleError(record)
            return None

    def _format_bound(self, record: logging.LogRecord, bound: tuple[str | None, Any]) -> str:
        request_id, variables = bound
        REQUEST_ID.set(request_id)
        structlog.contextvars.bind_contextvars(**variables)
        return self.format(record)


def _sole_handler(logger: logging.Logger, level: int) -> LineHandler | None:
    """The one handler a record of ``logger`` at ``level`` would reach, when that is a
    ``LineHandler`` with nothing else on the way (no other handler, no filter)."""
    found: LineHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if found is not None or type(handler) is not LineHandler or handler.filters:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    if found is None or level < found.level:
        return None
    return found


def log_fields(
    logger: logging.Logger,
    level: int,
    event: str,
    fields: Fields,
    *,
    varying: frozenset[str] = frozenset(),
) -> None:
    """``logger.log(level, event, extra=fields)``, written straight to the stream when
    ``configure_logging``'s handler is the only one that would see it (otherwise, and
    under test capture, through ``logging`` as usual). ``fields`` may be a function
    that makes them, called when the line is rendered, outside the caller's context (it
    must give what it would have given now); a dict must not change afterwards. Name
    in ``varying`` the fields whose values change from line to line: the rest of the
    line is rendered once."""
    if not logger.isEnabledFor(level):
        return
    handler = _sole_handler(logger, level)
    formatter = handler.formatter if handler is not None else None
    if handler is None or not isinstance(formatter, LineFormatter) or not formatter.renders_lines:
        logger.log(level, event, extra=fields() if callable(fields) else fields)
        return
    handler.write_fields(logger.name, level, event, fields, varying)


def build_formatter(log_format: LogFormat, *, colors: bool = False) -> LineFormatter:
    """A ``logging.Formatter`` that renders records as one JSON object or one text line."""
    return LineFormatter(log_format, colors=colors)


def configure_logging(
    log_format: LogFormat, *, level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Send every logger's records to ``stream`` (stderr) in ``log_format``.

    Replaces the root logger's handlers, and makes uvicorn's loggers propagate to it
    instead of printing with their own. Called by ``python -m app`` before serving.
    """
    output = stream or sys.stderr
    handler = LineHandler(output)
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
