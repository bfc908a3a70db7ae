"""Running copier, git and make as a user does, from the tests of the template."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pathspec
import pytest

from tests.services import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def tracked_files(root: Path = ROOT) -> list[Path]:
    """The repository's files as a clone has them: tracked, plus new ones not ignored
    (what copier copies from a working tree), that still exist."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            check=True,
            capture_output=True,
        ).stdout.decode()
        paths = [root / name for name in listed.split("\0") if name]
    except (FileNotFoundError, subprocess.CalledProcessError):
        paths = _not_ignored(root)  # a checkout without git (a test container)
    return [path for path in paths if path.is_file() and not path.is_symlink()]


def _not_ignored(root: Path) -> list[Path]:
    ignored = pathspec.GitIgnoreSpec.from_lines((root / ".gitignore").read_text().splitlines())
    return [
        path
        for path in sorted(root.rglob("*"))
        if ".git" not in path.relative_to(root).parts
        and not ignored.match_file(path.relative_to(root).as_posix())
    ]


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


COPIER = Path(sys.executable).with_name("copier")
#: The release of the template the services are generated from.
TAG = "v1.0.0"


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is needed to set up each generated service: run `make setup` first")
    return found


#: The uv settings a service shares with this repository (CI sets them): where the
#: packages are cached, and which interpreter. The rest (a project, an environment) would
#: point the service at this repository's.
_UV_SHARED = frozenset({"UV_CACHE_DIR", "UV_PYTHON"})


def run(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` offline (uv from its cache only); on failure, fail the test with
    its output."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VIRTUAL_ENV", "PYTEST_", "UV_")) or key in _UV_SHARED
    }
    # A generated service's make runs as its user's would, not as a sub-make of this
    # repository's `make test` (which would add "Entering/Leaving directory" lines).
    for inherited in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"):
        environment.pop(inherited, None)
    environment |= {
        "UV_OFFLINE": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        # This interpreter's version unless one was chosen: the cache holds its wheels.
        "UV_PYTHON": os.environ.get("UV_PYTHON") or "{}.{}".format(*sys.version_info[:2]),
        **env,
    }
    result = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} in {cwd} exited with {result.returncode}:\n"
            f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
    return result


def git(repository: Path, *args: str) -> str:
    return run(
        ["git", "-c", "user.name=Template", "-c", "user.email=template@example.test", *args],
        repository,
    ).stdout


def copier_copy(
    template: Path, destination: Path, answers: Mapping[str, Any], *, ref: str = TAG
) -> subprocess.CompletedProcess[str]:
    """What the user types, with their answers given as data instead of typed in."""
    data = destination.parent / f"{destination.name}-answers.json"
    data.write_text(json.dumps(answers))
    command = [str(COPIER), "copy", "--trust", "--defaults", f"--vcs-ref={ref}"]
    return run(
        [*command, f"--data-file={data}", str(template), str(destination)], destination.parent
    )


@contextlib.contextmanager
def serve(root: Path, python: Path, **env: str) -> Iterator[str]:
    """``python -m app`` in a generated service's directory (so its ``.env`` is read and
    its code imported), ``env`` on top; its base URL once it is ready."""
    port = free_port()
    log = root / f"api-{port}.log"
    environment = {"PATH": os.environ.get("PATH", ""), "API_LISTEN": f"127.0.0.1:{port}", **env}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(python), "-m", "app"],
            cwd=root,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200,
            timeout=60,
            what=f"python -m app in {root.name}",
            log=log,
            process=process,
        )
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
