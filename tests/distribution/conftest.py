"""The library as users get it: a wheel built by `uv build`, installed in fresh
virtualenvs outside the repository (so `import auth` cannot find the source tree)."""

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


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``uv build`` of this repository: the wheel of the ``auth`` library."""
    if not Path(UV).exists():
        raise ServiceUnavailableForTests("uv is missing: run `make setup`")
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--out-dir", out, cwd=ROOT)
    (built,) = out.glob("*.whl")
    return built


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
    """The wheel with its ``fastapi`` extra, and uvicorn to serve the example app."""
    return fresh_virtualenv(tmp_path_factory.mktemp("fastapi-venv"), f"{wheel}[fastapi]", "uvicorn")


@pytest.fixture(scope="session")
def testing_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Virtualenv:
    """A user's test environment: the wheel with its ``fastapi`` and ``testing`` extras,
    pytest, and httpx2 for Starlette's ``TestClient``."""
    return fresh_virtualenv(
        tmp_path_factory.mktemp("testing-venv"), f"{wheel}[fastapi,testing]", "pytest", "httpx2"
    )
