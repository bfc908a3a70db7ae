"""The public surface of the auth package: exported names, typing marker, independence."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import auth

AUTH_DIR = Path(auth.__file__).parent
MODULES = sorted(AUTH_DIR.rglob("*.py"))
REPOSITORY = AUTH_DIR.parent

EXPECTED_EXPORTS = {
    "AuthError",
    "AuthMode",
    "AuthSettings",
    "Authenticator",
    "Check",
    "ConfigurationError",
    "HostGuard",
    "HttpRequest",
    "InsufficientScope",
    "InvalidDpopProof",
    "InvalidRequest",
    "InvalidToken",
    "IpNetwork",
    "IssuerSettings",
    "MemoryReplayStore",
    "MissingCredentials",
    "Principal",
    "Provider",
    "ReplayStore",
    "ServiceUnavailable",
    "TokenRedactingFilter",
    "TokenVerifier",
    "Refusal",
    "UseDpopNonce",
    "check_any_role",
    "check_roles",
    "check_scopes",
    "check_settings",
    "client_address",
    "create_authenticator",
    "install_token_redaction",
    "is_trusted_proxy",
    "json_nesting_exceeds",
    "parse_list_setting",
    "problem_document",
    "problem_json",
    "read_settings",
    "redact",
    "redact_target",
}
#: The modules an application imports; every other module of auth/ is private (its name,
#: or a package's, starts with an underscore).
PUBLIC_MODULES = {
    "auth",
    "auth.asgi",
    "auth.doctor",
    "auth.fastapi",
    "auth.fastapi.testing",
    "auth.pytest_plugin",
    "auth.replay_redis",
    "auth.sync",
    "auth.testing",
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


def _dotted(module: Path) -> str:
    parts = module.relative_to(REPOSITORY).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


def test_every_module_is_public_by_name_or_private_by_underscore() -> None:
    public = {_dotted(module) for module in MODULES if not _is_private(_dotted(module))}
    assert public == PUBLIC_MODULES


def _auth_imports(tree: ast.AST) -> set[str]:
    """The auth modules a file imports, and each ``module.name`` it imports from them."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "auth" or node.module.startswith("auth."):
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("auth"))
    return names


APPLICATION = sorted(
    [*(REPOSITORY / "app").rglob("*.py"), *(REPOSITORY / "migrations").rglob("*.py")]
)


@pytest.mark.parametrize(
    "module", APPLICATION, ids=[str(m.relative_to(REPOSITORY)) for m in APPLICATION]
)
def test_the_application_imports_only_public_names_of_auth(module: Path) -> None:
    imported = _auth_imports(ast.parse(module.read_text(encoding="utf-8")))
    assert not {name for name in imported if _is_private(name)}, module


def test_the_public_name_check_would_notice_a_private_import() -> None:
    tree = ast.parse("from auth._jws import parse\nfrom auth import _jws\nimport auth._jwks\n")
    assert all(_is_private(name) for name in _auth_imports(tree) if name != "auth")


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


@pytest.mark.parametrize("module", MODULES, ids=[module.name for module in MODULES])
def test_no_module_of_auth_imports_the_package_by_its_name(module: Path) -> None:
    # The wheel installs this folder as oidc_resource_server: an absolute `auth` import
    # would find a user's own auth.py, or nothing.
    imported = _imported_modules(ast.parse(module.read_text(encoding="utf-8")))
    assert not {name for name in imported if name == "auth" or name.startswith("auth.")}
