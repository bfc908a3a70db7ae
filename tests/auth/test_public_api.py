"""The public surface of the auth package: exported names, typing marker, independence."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import auth

AUTH_DIR = Path(auth.__file__).parent
MODULES = sorted(AUTH_DIR.glob("*.py"))

EXPECTED_EXPORTS = {
    "AuthError",
    "AuthMode",
    "AuthSettings",
    "Authenticator",
    "Check",
    "ConfigurationError",
    "HttpRequest",
    "InsufficientScope",
    "InvalidDpopProof",
    "InvalidRequest",
    "InvalidToken",
    "IssuerSettings",
    "MemoryReplayStore",
    "MissingCredentials",
    "Principal",
    "Provider",
    "ReplayStore",
    "ServiceUnavailable",
    "TokenRedactingFilter",
    "TokenVerifier",
    "UseDpopNonce",
    "create_authenticator",
    "install_token_redaction",
}


def test_all_is_sorted_and_exactly_the_public_names() -> None:
    assert auth.__all__ == sorted(auth.__all__)
    assert set(auth.__all__) == EXPECTED_EXPORTS
    assert len(auth.__all__) == len(EXPECTED_EXPORTS)
    for name in auth.__all__:
        assert getattr(auth, name) is not None


def test_the_package_ships_a_py_typed_marker() -> None:
    # PEP 561: type checkers read auth's annotations only when this file exists.
    assert (AUTH_DIR / "py.typed").is_file()


def _imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


@pytest.mark.parametrize("module", MODULES, ids=[module.name for module in MODULES])
def test_no_module_of_auth_imports_the_application(module: Path) -> None:
    imported = _imported_modules(ast.parse(module.read_text(encoding="utf-8")))
    offending = {name for name in imported if name == "app" or name.startswith("app.")}
    assert not offending, f"{module.name} imports {offending}"


def test_the_import_check_would_notice_an_application_import() -> None:
    tree = ast.parse(
        "import app\nfrom app.main import create_app\nimport importlib\n"
        "importlib.import_module('app.settings')\n"
    )
    assert {"app", "app.main", "app.settings"} <= _imported_modules(tree)


@pytest.mark.parametrize("module", MODULES, ids=[module.name for module in MODULES])
def test_every_module_says_what_it_is(module: Path) -> None:
    assert ast.get_docstring(ast.parse(module.read_text(encoding="utf-8")))
