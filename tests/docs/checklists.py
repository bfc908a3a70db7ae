"""The provider checklists of docs/providers/ read as data: their fenced blocks by
section, the API settings they give (a ``dotenv`` block, read the way the application
reads ``.env``) and the sample token they describe (two ``json`` blocks, header then
payload, under "What the API receives")."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS_DIR = ROOT / "docs" / "providers"
PROVIDERS = ("keycloak", "auth0", "entra", "okta")

# A fence opens with ``` and an info string, and closes with a bare ```. The checklists
# use nothing more of Markdown than that and "## " headings, so this is all that is
# parsed (a Markdown library would add a dependency for these few lines).
_FENCE = re.compile(r"^```(?P<lang>[\w+-]*)\n(?P<text>.*?)^```$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^## (?P<title>.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    language: str
    text: str


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


def checklist_path(provider: str) -> Path:
    return PROVIDERS_DIR / f"{provider}.md"


def sections(path: Path) -> list[Section]:
    """The ``## `` sections of a Markdown file, each with its fenced blocks in order."""
    text = path.read_text()
    headings = list(_HEADING.finditer(text))
    found = []
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        end = following.start() if following else len(text)
        body = text[heading.end() : end]
        blocks = tuple(Block(m["lang"], m["text"]) for m in _FENCE.finditer(body))
        found.append(Section(heading["title"].strip(), blocks))
    return found


def api_settings(path: Path) -> dict[str, str]:
    """The one ``dotenv`` block of a checklist, as ``python -m app`` reads a ``.env``."""
    (block,) = [b for s in sections(path) for b in s.blocks if b.language == "dotenv"]
    values = dotenv_values(stream=io.StringIO(block.text))
    return {name: value for name, value in values.items() if value is not None}


def sample_token(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of the token shown under "What the API receives"."""
    (section,) = [s for s in sections(path) if s.title == "What the API receives"]
    header, payload = (json.loads(b.text) for b in section.blocks if b.language == "json")
    return header, payload
