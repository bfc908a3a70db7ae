"""The library as users get it: a wheel and an sdist built by `uv build`, the wheel
installed in fresh virtualenvs outside the repository, next to a user's application that
has its own ``auth.py`` (the module name the library would otherwise collide with)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import ROOT, ServiceUnavailableForTests

UV = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never", **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


@dataclass(frozen=True)
class Virtualenv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def run(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
        # PYTHONPATH cleared and cwd outside the repository: only the installed wheel counts.
        return run(self.python, *args, cwd=cwd, env={"PYTHONPATH": "", **(env or {})})

    def installed(self) -> set[str]:
        listing = run(
            UV, "pip", "list", "--python", self.python, "--format", "freeze", cwd=self.path
        )
        return {line.split("==")[0].lower() for line in listing.splitlines() if "==" in line}


#: The import name the wheel installs the repository's auth/ folder under.
PACKAGE = "oidc_resource_server"

#: A user's own ``auth`` module, as common in applications as the name is short.
USER_AUTH_MODULE = '''"""The user's own auth.py: nothing to do with the library."""

ROLE = "the user's own auth module"


def login(user: str) -> str:
    return f"{user} logged in by the user's code"
'''


@dataclass(frozen=True)
class Distributions:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> Distributions:
    """``uv build`` of this repository, as a release is made: the sdist, and the wheel
    built from that sdist (so the sdist is proven complete)."""
    if not Path(UV).exists():
        raise ServiceUnavailableForTests("uv is missing: run `make setup`")
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--out-dir", out, cwd=ROOT)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Distributions(sdist=sdist, wheel=wheel)


@pytest.fixture(scope="session")
def wheel(distributions: Distributions) -> Path:
    """The wheel of the library."""
    return distributions.wheel


def user_project(directory: Path) -> Path:
    """A directory holding a user's application with its own ``auth.py``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "auth.py").write_text(USER_AUTH_MODULE)
    return directory


def fresh_virtualenv(directory: Path, *requirements: str) -> Virtualenv:
    venv = Virtualenv(directory / "venv")
    run(UV, "venv", "--python", sys.executable, venv.path, cwd=directory)
    run(UV, "pip", "install", "--python", venv.python, *requirements, cwd=directory)
    return venv


@pytest.fixture(scope="session")
def core_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Virtualenv:
    """The wheel alone, no extras."""
    return fresh_virtualenv(tmp_path_factory.mktemp("core-venv"), str(wheel))


@pytest.fixture(scope="session")
def fastapi_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Virtualenv:
    """The wheel with its ``fastapi`` and ``server`` extras: what the README's example
    application needs, and nothing else."""
    return fresh_virtualenv(tmp_path_factory.mktemp("fastapi-venv"), f"{wheel}[fastapi,server]")


@pytest.fixture(scope="session")
def testing_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Virtualenv:
    """A user's test environment: the wheel with its ``fastapi`` and ``testing`` extras,
    pytest, and httpx2 for Starlette's ``TestClient``."""
    return fresh_virtualenv(
        tmp_path_factory.mktemp("testing-venv"), f"{wheel}[fastapi,testing]", "pytest", "httpx2"
    )
