"""A copy of the repository, as copier starts from; the template as a git repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.template.generation import TAG, copy_repository, git


@pytest.fixture
def repository_copy(tmp_path: Path) -> Path:
    return copy_repository(tmp_path / "copy")


@pytest.fixture(scope="session")
def template_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree as a git repository, tagged: what a user's clone would be."""
    repository = copy_repository(tmp_path_factory.mktemp("template") / "todo-oidc", machinery=True)
    git(repository, "init", "--quiet", "--initial-branch=main")
    git(repository, "add", "-A")
    git(repository, "commit", "--quiet", "-m", "The template")
    git(repository, "tag", TAG)
    return repository
