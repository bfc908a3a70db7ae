"""`uv build` makes a distribution a company can adopt: named for the library, licensed,
installed under an import name no user module shadows, with a server extra and a long
description whose links work on a package index."""

from __future__ import annotations

import email
import re
import tarfile
import tomllib
import zipfile
from email.message import Message
from pathlib import Path

import pytest

from tests.distribution.conftest import (
    PACKAGE,
    Distributions,
    Virtualenv,
    fresh_virtualenv,
    user_project,
)
from tests.services import ROOT

pytestmark = pytest.mark.wheel

#: What the TODO application needs and the library must not pull in.
APPLICATION_ONLY = {"sqlmodel", "sqlalchemy", "alembic", "psycopg", "asyncpg", "uuid6", "orjson"}
#: ``oidc-resource-server`` here; a service made from this template renames it (the
#: import name stays).
DISTRIBUTION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def test_the_distribution_is_named_for_the_library(distributions: Distributions) -> None:
    assert distributions.wheel.name.startswith(f"{DISTRIBUTION.replace('-', '_')}-")
    assert distributions.sdist.name.startswith(f"{DISTRIBUTION.replace('-', '_')}-")
    assert _metadata(distributions.wheel)["Name"] == DISTRIBUTION


def test_wheel_holds_the_library_under_its_import_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert f"{PACKAGE}/py.typed" in names
    assert f"{PACKAGE}/_verifier.py" in names
    assert f"{PACKAGE}/fastapi/__init__.py" in names
    assert not [name for name in names if name.startswith(("auth/", "app/", "tests/"))]
    assert not [name for name in names if name.startswith("migrations/")]


def test_the_mit_licence_is_in_the_wheel_and_the_sdist(distributions: Distributions) -> None:
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License")
    with zipfile.ZipFile(distributions.wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(name).decode() == licence
    metadata = _metadata(distributions.wheel)
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    with tarfile.open(distributions.sdist) as sdist:
        members = {
            Path(member.name).relative_to(Path(member.name).parts[0]).as_posix()
            for member in sdist.getmembers()
            if len(Path(member.name).parts) > 1
        }
    assert {"LICENSE", "CHANGELOG.md", "pyproject.toml", "auth/__init__.py"} <= members
    # The sdist is the library's, not the repository's.
    assert not [m for m in members if m.startswith(("app/", "tests/", "docs/", "bench/"))]


def test_the_long_description_has_only_links_that_work_off_the_repository(
    wheel: Path,
) -> None:
    description = _metadata(wheel).get_payload()
    assert isinstance(description, str)
    assert "OIDC_ISSUER_URI" in description  # it is the README
    targets = re.findall(r"\]\(([^)]*)\)", description)
    assert all(target.startswith("https://") for target in targets), targets
    assert "](../" not in description


def test_the_library_imports_beside_a_users_own_auth_module(
    core_venv: Virtualenv, tmp_path: Path
) -> None:
    project = user_project(tmp_path / "project")
    (project / "main.py").write_text(
        "import pathlib\n"
        "import auth\n"
        f"import {PACKAGE}\n"
        f"from {PACKAGE} import Principal\n"
        f"from {PACKAGE}.testing import TestIssuer\n"
        'assert auth.ROLE == "the user\'s own auth module"\n'
        "assert Principal(subject='alice', issuer='https://i.example').subject == 'alice'\n"
        f"print(pathlib.Path({PACKAGE}.__file__).parent)\n"
        f"assert (pathlib.Path({PACKAGE}.__file__).parent / 'py.typed').exists()\n"
        "print(auth.login('alice'))\n"
    )
    location, greeting = core_venv.run("main.py", cwd=project).splitlines()
    assert Path(location).is_relative_to(core_venv.path)
    assert greeting == "alice logged in by the user's code"


def test_the_libraries_loggers_are_named_after_its_import_name(
    core_venv: Virtualenv, tmp_path: Path
) -> None:
    # A user's `logging.getLogger("auth")` must not configure the library's loggers.
    names = core_venv.run(
        "-c",
        f"from {PACKAGE} import _jwks, _development; print(_jwks.logger.name, "
        "_development.logger.name)",
        cwd=user_project(tmp_path),
    )
    assert names.split() == [f"{PACKAGE}.jwks", f"{PACKAGE}.mock"]


def test_the_doctor_runs_under_the_import_name(core_venv: Virtualenv, tmp_path: Path) -> None:
    usage = core_venv.run("-m", f"{PACKAGE}.doctor", "--help", cwd=user_project(tmp_path))
    assert f"python -m {PACKAGE}.doctor" in usage


def test_core_install_brings_neither_the_application_nor_the_framework(
    core_venv: Virtualenv,
) -> None:
    installed = core_venv.installed()
    assert {DISTRIBUTION, "httpx", "joserfc", "cryptography", "pydantic-settings"} <= installed
    assert not installed & (APPLICATION_ONLY | {"fastapi", "redis", "uvicorn", "authlib"})


def test_fastapi_extra_brings_the_adapter(fastapi_venv: Virtualenv, tmp_path: Path) -> None:
    fastapi_venv.run("-c", f"import {PACKAGE}.fastapi", cwd=user_project(tmp_path))
    assert not fastapi_venv.installed() & APPLICATION_ONLY


def test_the_server_extra_brings_uvicorn(wheel: Path, tmp_path: Path) -> None:
    venv = fresh_virtualenv(tmp_path, f"{wheel}[server]")
    assert "uvicorn" in venv.installed()
    assert "uvicorn" in venv.run("-m", "uvicorn", "--version", cwd=tmp_path)
