"""A copy of the repository's tracked files, as copier would start from."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tracked_files(root: Path = ROOT) -> list[Path]:
    """The repository's files as a clone has them: tracked, plus new ones not ignored
    (what copier copies from a working tree), that still exist."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    paths = [root / name for name in listed.split("\0") if name]
    return [path for path in paths if path.is_file() and not path.is_symlink()]


#: What copier leaves out of every service (copier.yml's ``_exclude``): the template's
#: own machinery.
MACHINERY = ("copier.yml", "generator/", "tests/template/")


def copy_repository(destination: Path, root: Path = ROOT, *, machinery: bool = False) -> Path:
    """The files copier starts from; less the template's machinery unless ``machinery``."""
    for path in tracked_files(root):
        relative = path.relative_to(root).as_posix()
        if not machinery and relative.startswith(MACHINERY):
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return destination


@pytest.fixture
def repository_copy(tmp_path: Path) -> Path:
    return copy_repository(tmp_path / "copy")
