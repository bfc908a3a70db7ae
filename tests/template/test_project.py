"""The service's name where the repository names itself; a lost anchor fails loudly."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from generator.naming import AnswerError, ProjectNames
from generator.project import rename_project

NAMES = ProjectNames("Acme Orders", "acme-orders")


def test_the_distribution_the_lock_the_readme_and_the_openapi_title(
    repository_copy: Path,
) -> None:
    rename_project(repository_copy, NAMES)
    project = tomllib.loads((repository_copy / "pyproject.toml").read_text())["project"]
    assert project["name"] == "acme-orders"
    assert project["description"].startswith("Acme Orders: ")
    lock = tomllib.loads((repository_copy / "uv.lock").read_text())
    (root,) = [package for package in lock["package"] if package["source"] == {"editable": "."}]
    assert root["name"] == "acme-orders"
    readme = (repository_copy / "README.md").read_text()
    assert readme.startswith("# Acme Orders\n\nMade with `copier copy`")
    assert 'title="Acme Orders",' in (repository_copy / "app" / "main.py").read_text()


def test_a_title_with_a_backslash_stays_a_valid_string(repository_copy: Path) -> None:
    rename_project(repository_copy, ProjectNames("Back\\slash", "back-slash"))
    assert 'title="Back\\\\slash",' in (repository_copy / "app" / "main.py").read_text()
    assert tomllib.loads((repository_copy / "pyproject.toml").read_text())["project"][
        "description"
    ].startswith("Back\\slash: ")


def test_a_missing_anchor_is_an_error_not_a_silent_skip(repository_copy: Path) -> None:
    main = repository_copy / "app" / "main.py"
    main.write_text(main.read_text().replace('title="TODO API",', 'title="Other",'))
    with pytest.raises(AnswerError, match=r"main\.py: .* not found"):
        rename_project(repository_copy, NAMES)
