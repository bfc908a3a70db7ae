"""Lines that belong to one feature, marked in comments, kept or cut.

Whole files of a feature are left out by copier (``_exclude`` in ``copier.yml``). Inside
a file every service keeps, the feature's lines carry a marker, a comment in the file's
own syntax (``#``, ``//`` or ``<!-- -->``)::

    routers = (
        me.router,
        live.router,  # feature: live
    )

    # feature: live begin
    def on_event(...): ...
    # feature: live end

The marker is on the line it concerns, or around a block; blocks do not nest. When the
feature is off, the lines go (and the blank lines that separated them from what
follows, so the spacing stays as if they had never been there); when it is on, only the
markers go. A generated service carries no marker.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass, field
from pathlib import Path

#: The optional parts. ``todo`` is the TODO example, replaced by the user's own resource
#: (``generator.resource``); ``bench`` measures it with its live updates, so it goes
#: when either does. ``template`` is this repository's own machinery (the
#: generator, the lines that explain the template): a generated service never has it.
FEATURES = frozenset({"bench", "frontend-mock", "live", "template", "todo"})

_NAME = r"(?P<name>[a-z][a-z-]*)"
_OPEN = r"(?:#|//|<!--)"
_CLOSE = r"\s*(?:-->)?\s*$"
_BLOCK = re.compile(rf"^\s*{_OPEN}\s*feature:\s*{_NAME}\s+(?P<edge>begin|end){_CLOSE}")
_LINE = re.compile(rf"\s*{_OPEN}\s*feature:\s*{_NAME}{_CLOSE}")
#: A comment line that starts like a marker: it must be one (a typo would otherwise be
#: kept silently).
_LOOKS_LIKE_MARKER = re.compile(rf"^\s*{_OPEN}\s*feature:")

#: Files the generator reads for markers: text in a syntax with comments (not JSON, not
#: lock files, not minified assets).
TEXT_SUFFIXES = frozenset(
    {".cfg", ".css", ".html", ".ini", ".js", ".lua", ".mako", ".md", ".mjs", ".py", ".sh"}
    | {".toml", ".ts", ".txt", ".yaml", ".yml"}
)
TEXT_NAMES = frozenset({"Dockerfile", "Makefile", "run", ".dockerignore", ".env.example"})
TEXT_NAMES |= {".gitignore"}
#: Never walked into: tools' state and downloads, not the project's text (``.cache`` holds
#: Keycloak, Hydra and a Docker engine's data root, whose mounts are not even readable).
_SKIPPED_DIRECTORIES = frozenset(
    {
        ".git",
        ".venv",
        ".tools",
        ".cache",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "node_modules",
        "__pycache__",
    }
)


class MarkerError(ValueError):
    """A marker names no known feature, or a block is not closed as it was opened."""


def _known(name: str, where: str) -> str:
    if name not in FEATURES:
        raise MarkerError(f"{where}: unknown feature {name!r} (known: {sorted(FEATURES)})")
    return name


def _is_blank(line: str) -> bool:
    return not line.strip()


def _without_trailing_blanks(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and _is_blank(lines[end - 1]):
        end -= 1
    return lines[:end]


@dataclass
class _Cut:
    """``cut``'s state, line after line."""

    kept: Set[str]
    source: str
    out: list[str] = field(default_factory=list)
    #: The open block: its feature and line number.
    block: tuple[str, int] | None = None
    #: After a cut: how many of the blank lines that follow it to drop. The lines before
    #: and after the cut are then as far apart as the wider of the two gaps around it
    #: was (two blank lines after a method cut at the end of a class, one between two
    #: paragraphs); at the start of the text, every one.
    swallow: int | None = None

    def _cutting(self) -> None:
        kept = _without_trailing_blanks(self.out)
        self.swallow = len(self.out) - len(kept) if kept else sys.maxsize

    def block_edge(self, name: str, edge: str, number: int) -> None:
        where = f"{self.source}:{number}"
        if edge == "begin":
            if self.block is not None:
                raise MarkerError(f"{where}: {name!r} opened inside {self.block[0]!r}")
            self.block = (name, number)
        elif self.block is None or self.block[0] != name:
            raise MarkerError(f"{where}: end of {name!r}, which is not open")
        else:
            self.block = None
        # The marker line goes either way: the gaps around it close as around a cut.
        self._cutting()

    def line(self, line: str, where: str) -> None:
        marker = _LINE.search(line)
        if marker is None and _LOOKS_LIKE_MARKER.match(line):
            raise MarkerError(f"{where}: not a marker: {line.strip()!r}")
        if self.block is not None and self.block[0] not in self.kept:
            return
        if marker:
            if _known(marker["name"], where) not in self.kept:
                self._cutting()
                return
            ending = line[len(line.rstrip("\r\n")) :]
            line = line[: marker.start()].rstrip() + ending
        if self.swallow is not None and _is_blank(line):
            if self.swallow > 0:
                self.swallow -= 1
                return
        else:
            self.swallow = None
        self.out.append(line)

    def result(self) -> str:
        if self.block is not None:
            raise MarkerError(f"{self.source}:{self.block[1]}: {self.block[0]!r} is never closed")
        if self.swallow is not None:  # cut at the end: no blank lines left trailing
            self.out = _without_trailing_blanks(self.out)
        return "".join(self.out)


def cut(text: str, kept: Set[str], *, source: str = "<text>") -> str:
    """``text`` without the lines of the features not in ``kept``, and without markers.

    Raises:
        MarkerError: an unknown feature, an ``end`` without its ``begin`` (or the
            reverse), or a block opened inside another.
    """
    state = _Cut(kept, source)
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        where = f"{source}:{number}"
        if edge := _BLOCK.match(line):
            state.block_edge(_known(edge["name"], where), edge["edge"], number)
        else:
            state.line(line, where)
    return state.result()


def marked_features(text: str, *, source: str = "<text>") -> set[str]:
    """The features ``text`` has markers for.

    Raises:
        MarkerError: as ``cut``.
    """
    cut(text, FEATURES, source=source)  # checks the markers
    names: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if found := (_BLOCK.match(line) or _LINE.search(line)):
            names.add(_known(found["name"], f"{source}:{number}"))
    return names


def text_files(root: Path) -> Iterator[Path]:
    """The files under ``root`` that may carry markers."""
    found: list[Path] = []
    for directory, subdirectories, files in os.walk(root):
        # Pruned here, so the walk never enters them.
        subdirectories[:] = [name for name in subdirectories if name not in _SKIPPED_DIRECTORIES]
        found.extend(Path(directory, name) for name in files)
    for path in sorted(found):
        if path.is_file() and not path.is_symlink() and _is_text(path):
            yield path


def _is_text(path: Path) -> bool:
    return path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES


def cut_tree(root: Path, kept: Set[str], files: Iterable[Path] | None = None) -> list[Path]:
    """Apply ``cut`` to every text file under ``root``; the files it changed.

    Raises:
        MarkerError: as ``cut``, naming the file and line.
    """
    changed = []
    for path in text_files(root) if files is None else files:
        text = path.read_text(encoding="utf-8")
        if "feature:" not in text:
            continue
        result = cut(text, kept, source=str(path.relative_to(root)))
        if result != text:
            path.write_text(result, encoding="utf-8")
            changed.append(path)
    return changed
