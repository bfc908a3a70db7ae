"""The service's own name where the repository names itself.

Each edit finds one exact anchor and fails loudly when it is not there (a test runs
them on this repository, so a changed anchor is caught here, not in a user's project).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from generator.naming import AnswerError, ProjectNames


def _replace_once(path: Path, pattern: str, replacement: str, flags: int = 0) -> None:
    text = path.read_text(encoding="utf-8")
    result, count = re.subn(pattern, lambda _: replacement, text, count=1, flags=flags)
    if count != 1:
        raise AnswerError(f"{path.name}: {pattern!r} not found; the generator needs updating")
    path.write_text(result, encoding="utf-8")


def _toml_string(value: str) -> str:
    # A basic TOML string: the title is one line without quotes (ProjectNames), so
    # only backslashes need escaping.
    return '"' + value.replace("\\", "\\\\") + '"'


def rename_distribution(root: Path, names: ProjectNames) -> None:
    """``[project]`` name and description in pyproject.toml, and the same name as the
    root package of uv.lock (so ``uv sync --locked`` still accepts the lock)."""
    pyproject = root / "pyproject.toml"
    current = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
    _replace_once(pyproject, rf'^name = "{re.escape(current)}"$', f'name = "{names.slug}"', re.M)
    description = f"{names.title}: an HTTP API whose callers present OIDC access tokens."
    _replace_once(
        pyproject, r"^description = .*$", f"description = {_toml_string(description)}", re.M
    )
    _replace_once(
        root / "uv.lock",
        rf'^name = "{re.escape(current)}"(?=\nversion = "[^"]+"\nsource = {{ editable = "\." }}$)',
        f'name = "{names.slug}"',
        re.M,
    )


#: Under the README's title of a generated service: where it came from, where its
#: answers went, and how later template changes reach it.
README_ORIGIN = (
    "Made with `copier copy` from the todo-oidc template: the answers are in"
    " `.copier-answers.yml`, the settings they gave (identity provider, database) in"
    " `.env`, and `copier update --trust` brings in later changes of the template"
    " ([docs/generate.md](docs/generate.md))."
)


def retitle_readme(root: Path, names: ProjectNames) -> None:
    """The README's first heading becomes the service's name, and says where it came from."""
    _replace_once(root / "README.md", r"\A# .*$", f"# {names.title}\n\n{README_ORIGIN}", re.M)


def retitle_openapi(root: Path, names: ProjectNames) -> None:
    """The title of the OpenAPI document and of ``/docs``."""
    title = f"title={_python_string(names.title)},"
    _replace_once(root / "app" / "main.py", r'title="TODO API",', title)


def _python_string(value: str) -> str:
    # Double-quoted, as the formatter writes it; JSON's escapes are Python's too.
    return json.dumps(value, ensure_ascii=False)


def rename_project(root: Path, names: ProjectNames) -> None:
    rename_distribution(root, names)
    retitle_readme(root, names)
    retitle_openapi(root, names)
