"""A log line rendered straight from its fields, as ``app.observability.logs``' chain of
processors renders a record: the same bytes, at a fraction of the cost.

The chain (the standard library's ``LogRecord``, structlog's copy of it, a processor per
field, the renderer) cost more than the rest of a small request when it wrote one access
line per request (bench/README.md, "What observing a request costs"). A renderer here
takes the entry the chain would have built, passes every string through the same
``auth.redact``, and writes it as structlog's ``JSONRenderer`` (``json.dumps``) or
``ConsoleRenderer(colors=False, pad_event_to=0)`` would. Anything but a flat entry of
strings, numbers and None is left to the chain (``None``).

Lines of one kind repeat their keys and most of their values (a level, a route, an
outcome): the caller names the keys whose values vary from line to line, and the rest
of the line is rendered once per distinct set of the other values and remembered, as
text around slots (a bounded number of them). ``tests/app/observability/test_logs.py``
holds this path and the chain to the same line.
"""

from __future__ import annotations

import datetime
import functools
import math
import operator
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii
from typing import Any

from auth import redact

#: structlog's console renderer pads level names to its longest one, "exception".
LEVEL_WIDTH = 9
#: Characters for which the console renderer writes a string as its repr.
_QUOTED = frozenset(" \t=\r\n\"'")
#: Keys the console renderer writes as columns of their own, first and in this order.
_CONSOLE_COLUMNS = ("timestamp", "level", "event", "logger")
#: Keys it treats otherwise (a second logger column, tracebacks): left to the chain.
_CONSOLE_SPECIAL = frozenset({"logger_name", "stack", "exception", "exc_info"})
#: Bounds of what a renderer remembers: entry shapes, lines per shape, strings.
_MAX_SHAPES = 64
_MAX_TEMPLATES = 1024
_MAX_STRINGS = 1024
_SHORT_STRING = 100


class LineRenderer:
    """Renders a flat entry (key -> string, number or None), or says None."""

    #: Keys whose values are never cut out of a remembered line (they shape its text).
    always_fixed: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self._shapes: dict[tuple[tuple[str, ...], frozenset[str]], _Shape | None] = {}
        self._plain: dict[str, str] = {}
        self._quoted: dict[str, str] = {}

    def render(self, entry: dict[str, Any], varying: frozenset[str] = frozenset()) -> str | None:
        """The line of ``entry``; the values of ``varying`` keys are expected to change
        from one line to the next, the others to repeat."""
        keys = tuple(entry)
        shape = self._shapes.get((keys, varying))
        if shape is None:
            shape = _Shape(self, keys, varying)
            if len(self._shapes) < _MAX_SHAPES:
                self._shapes[keys, varying] = shape
        if shape.columns is None:
            return None
        values = tuple(entry.values())
        try:
            template = shape.template(values)
        except TypeError:  # an unhashable value: not a flat entry
            return None
        if template is None:
            return self.render_values(shape.columns, values)
        return template.fill(values)

    def template(
        self, entry: dict[str, Any], varying: frozenset[str], order: tuple[str, ...]
    ) -> _Template | None:
        """The line of ``entry`` with its ``varying`` values cut out, to be filled with
        a tuple of values in the order of ``order`` (which names every varying key of
        ``entry``); None when ``render`` would not use a template for it."""
        keys = tuple(entry)
        shape = _Shape(self, keys, varying)
        if shape.columns is None:
            return None
        try:
            template = _Template.make(shape, tuple(entry.values()))
        except TypeError:
            return None
        if template is None:
            return None
        position = {key: order.index(key) for key in keys if key in order}
        slots = [(position[keys[index]], plain, after) for index, plain, after in template.slots]
        return _Template(template.texts[0], slots, self)

    def render_values(self, columns: tuple[_Column, ...], values: tuple[Any, ...]) -> str | None:
        parts = []
        for index, before, plain in columns:
            text = self.value(values[index], plain=plain)
            if text is None:
                return None
            parts.append(before + text)
        return self.join(parts)

    def value(self, value: Any, *, plain: bool, remember: bool = True) -> str | None:
        """``value`` as written (a string redacted first); None if it cannot be. A
        short string is remembered unless ``remember`` is false (a varying value)."""
        kind = type(value)
        if kind is str:
            known = self._plain if plain else self._quoted
            text = known.get(value)
            if text is None:
                text = self.string(redact(value), plain)
                if remember and len(value) <= _SHORT_STRING and len(known) < _MAX_STRINGS:
                    known[value] = text
            return text
        if plain:
            return None  # a column the renderer writes as text, given something else
        if value is None or kind is int or kind is float or kind is bool:
            return self.scalar(value)
        return None

    def columns(self, keys: tuple[str, ...]) -> tuple[_Column, ...] | None:
        """(index in the entry, text before the value, whether a string is written
        as is) in the order of the line; None when the chain must render it."""
        raise NotImplementedError

    def string(self, text: str, plain: bool) -> str:
        raise NotImplementedError

    def encoder(self) -> Callable[[str], str]:
        """``string(text, plain=False)`` as a function of one argument."""
        return functools.partial(self.string, plain=False)

    def scalar(self, value: float | bool | None) -> str | None:
        raise NotImplementedError

    def join(self, parts: list[str]) -> str | None:
        raise NotImplementedError


_Column = tuple[int, str, bool]


class _Shape:
    """The entries of one set of keys (in order) and one set of varying keys: where
    each value goes, and the lines already rendered around the varying values."""

    def __init__(self, renderer: LineRenderer, keys: tuple[str, ...], varying: frozenset[str]):
        self.renderer = renderer
        self.columns = renderer.columns(keys)
        varying = varying - renderer.always_fixed
        self.slots = tuple(index for index, key in enumerate(keys) if key in varying)
        fixed = [index for index, key in enumerate(keys) if key not in varying]
        self._fixed: Callable[[tuple[Any, ...]], Any] = (
            operator.itemgetter(*fixed) if fixed else lambda values: ()
        )
        self._templates: dict[Any, _Template | None] = {}

    def template(self, values: tuple[Any, ...]) -> _Template | None:
        fixed = self._fixed(values)
        if fixed in self._templates:
            return self._templates[fixed]
        template = _Template.make(self, values)
        if len(self._templates) < _MAX_TEMPLATES:
            self._templates[fixed] = template
        return template


class _Template:
    """A line with its varying values cut out: text, slot, text, slot..., text."""

    def __init__(
        self, first: str, slots: list[tuple[int, bool, str]], renderer: LineRenderer
    ) -> None:
        # The text before the first slot; then per slot: the value's index in the
        # entry, whether it is written as is (a console column), the text after it.
        self.texts, self.slots, self.renderer = [first], slots, renderer
        # A plain column (None) is written as is, and only a string fits it.
        self._fill_slots = [
            (index, None if plain else renderer.encoder(), after) for index, plain, after in slots
        ]

    @classmethod
    def make(cls, shape: _Shape, values: tuple[Any, ...]) -> _Template | None:
        """Render the line with a marker in each slot, then cut at the markers; None
        when a marker is not found exactly once (a fixed value that looks like one)."""
        if shape.columns is None:
            return None
        renderer = shape.renderer
        plain = {index: is_plain for index, _, is_plain in shape.columns}
        marked = list(values)
        markers = {}
        for number, index in enumerate(shape.slots):
            marked[index] = f"\x00{number}\x00"
            markers[index] = renderer.string(marked[index], plain[index])
        line = renderer.render_values(shape.columns, tuple(marked))
        if line is None or any(line.count(marker) != 1 for marker in markers.values()):
            return None
        order = sorted(shape.slots, key=lambda index: line.index(markers[index]))
        texts, rest = [], line
        for index in order:
            before, _, rest = rest.partition(markers[index])
            texts.append(before)
        texts.append(rest)
        slots = [(index, plain[index], texts[number]) for number, index in enumerate(order, 1)]
        return cls(texts[0], slots, renderer)

    def fill(self, values: tuple[Any, ...]) -> str | None:
        # The renderer's ``value`` without remembering, written out: per line, this is
        # the one loop that runs. A string's encoding is the renderer's, chosen once
        # per slot (``encoder``).
        scalar = self.renderer.scalar
        parts = [self.texts[0]]
        for index, encode, after in self._fill_slots:
            value = values[index]
            kind = type(value)
            if kind is str:
                text = redact(value)
                if encode is not None:
                    text = encode(text)
                elif not text:
                    return None  # the renderer leaves an empty column out
            elif encode is not None and (
                value is None or kind is int or kind is float or kind is bool
            ):
                scalar_text = scalar(value)
                if scalar_text is None:
                    return None
                text = scalar_text
            else:
                return None
            parts += (text, after)
        return "".join(parts)


class JsonLines(LineRenderer):
    """``json.dumps(entry)``: ", " and ": " separators, ASCII with escapes."""

    def columns(self, keys: tuple[str, ...]) -> tuple[_Column, ...]:
        return tuple(
            (index, f"{', ' if index else ''}{encode_basestring_ascii(key)}: ", False)
            for index, key in enumerate(keys)
        )

    def string(self, text: str, plain: bool) -> str:
        return encode_basestring_ascii(text)

    def encoder(self) -> Callable[[str], str]:
        return encode_basestring_ascii

    def scalar(self, value: float | bool | None) -> str | None:
        if value is None:
            return "null"
        if type(value) is bool:
            return "true" if value else "false"
        if type(value) is float and not math.isfinite(value):
            return None  # json.dumps writes NaN, which is not JSON: left to the chain
        return repr(value)

    def join(self, parts: list[str]) -> str:
        return "{" + "".join(parts) + "}"


class ConsoleLines(LineRenderer):
    """``ConsoleRenderer(colors=False, pad_event_to=0)``: timestamp, level padded in
    brackets, event, logger in brackets, then the other keys sorted as ``key=value``,
    a string as is unless it holds a space, a quote, "=" or a line break (its repr)."""

    always_fixed = frozenset({"level"})  # padded to a width

    def columns(self, keys: tuple[str, ...]) -> tuple[_Column, ...] | None:
        if not _CONSOLE_SPECIAL.isdisjoint(keys) or not set(_CONSOLE_COLUMNS) <= set(keys):
            return None
        head = tuple((keys.index(key), "", True) for key in _CONSOLE_COLUMNS)
        rest = sorted(key for key in keys if key not in _CONSOLE_COLUMNS)
        return head + tuple((keys.index(key), f" {key}=", False) for key in rest)

    def string(self, text: str, plain: bool) -> str:
        if plain or _QUOTED.isdisjoint(text):
            return text
        return repr(text)

    def encoder(self) -> Callable[[str], str]:
        return _console_value

    def scalar(self, value: float | bool | None) -> str | None:
        return repr(value)

    def join(self, parts: list[str]) -> str | None:
        timestamp, level, event, logger, *rest = parts
        if not (timestamp and event):
            return None  # the renderer leaves an empty column out: the chain's business
        return f"{timestamp} [{level.ljust(LEVEL_WIDTH)}] {event} [{logger}]" + "".join(rest)


def _console_value(text: str) -> str:
    return text if _QUOTED.isdisjoint(text) else repr(text)


def utc_now() -> str:
    """The time as ``structlog.processors.TimeStamper(fmt="iso", utc=True)`` writes it."""
    return iso_utc(time.time_ns() // 1000)


def iso_utc(microseconds: int) -> str:
    """The time ``microseconds`` after the epoch as ``TimeStamper(fmt="iso", utc=True)``
    writes it; the date and second are formatted once a second."""
    global _second  # noqa: PLW0603 (a cache replaced whole, so threads read a pair)
    seconds, fraction = divmod(microseconds, 1_000_000)
    cached, prefix = _second
    if seconds != cached:
        moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
        prefix = moment.strftime("%Y-%m-%dT%H:%M:%S")
        _second = (seconds, prefix)
    # isoformat leaves out a zero fraction.
    return f"{prefix}.{fraction:06d}Z" if fraction else f"{prefix}Z"


_second: tuple[int, str] = (-1, "")

#: A line with its varying values cut out (``LineRenderer.template``), to ``fill``.
Template = _Template
