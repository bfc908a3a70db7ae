"""`uv build` makes a wheel that installs into a clean virtualenv and imports from anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.distribution.conftest import Virtualenv

pytestmark = pytest.mark.wheel

#: What the TODO application needs and the library must not pull in.
APPLICATION_ONLY = {"sqlmodel", "sqlalchemy", "alembic", "psycopg", "asyncpg", "uuid6", "orjson"}


def test_wheel_holds_the_library_and_its_typing_marker(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "auth/py.typed" in names
    assert "auth/_verifier.py" in names
    assert not [name for name in names if name.startswith(("app/", "tests/", "migrations/"))]


def test_auth_imports_from_any_directory_after_installing_the_wheel(
    core_venv: Virtualenv, tmp_path: Path
) -> None:
    location = core_venv.run(
        "-c",
        "import auth, auth.testing, pathlib; p = pathlib.Path(auth.__file__).parent;"
        " print(p); assert (p / 'py.typed').exists()",
        cwd=tmp_path,
    )
    assert Path(location.strip()).is_relative_to(core_venv.path)


def test_core_install_brings_neither_the_application_nor_the_framework(
    core_venv: Virtualenv,
) -> None:
    installed = core_venv.installed()
    assert {"httpx", "joserfc", "cryptography", "pydantic-settings"} <= installed
    assert not installed & (APPLICATION_ONLY | {"fastapi", "redis", "uvicorn", "authlib"})


def test_fastapi_extra_brings_the_adapter(fastapi_venv: Virtualenv, tmp_path: Path) -> None:
    fastapi_venv.run("-c", "import auth.fastapi", cwd=tmp_path)
    assert not fastapi_venv.installed() & APPLICATION_ONLY
