"""Each protocol of the HTTP surface is written once, and everything else calls it: the
RFC 9457 problem document, the refusal of a WebSocket upgrade, list-valued settings,
the OpenAPI security-requirement walker and the token-length cap. A second copy would
drift; these tests find one by its tell-tale code."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "auth").rglob("*.py"), *(ROOT / "app").rglob("*.py")])


def _nodes(path: Path) -> Iterator[ast.AST]:
    return ast.walk(ast.parse(path.read_text(), filename=str(path)))


def _is_problem_literal(node: ast.AST) -> bool:
    """A dict literal ``{"type": "about:blank", ...}``: a problem document built by hand."""
    return isinstance(node, ast.Dict) and any(
        isinstance(key, ast.Constant)
        and key.value == "type"
        and isinstance(value, ast.Constant)
        and value.value == "about:blank"
        for key, value in zip(node.keys, node.values, strict=True)
    )


def _is_denial_extension(node: ast.AST) -> bool:
    """The name of the WebSocket denial-response extension, looked up to refuse."""
    return isinstance(node, ast.Constant) and node.value == "websocket.http.response"


def _is_word_split(node: ast.AST) -> bool:
    """``value.replace(",", " ")``: commas as separators of a list setting."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "replace"
        and [getattr(arg, "value", None) for arg in node.args] == [",", " "]
    )


def _is_security_walk(node: ast.AST) -> bool:
    """``operation.get("security")``: walking an OpenAPI document's requirements."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and [getattr(arg, "value", None) for arg in node.args][:1] == ["security"]
    )


def _is_sixteen_kib(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Mult)
        and {getattr(node.left, "value", None), getattr(node.right, "value", None)} == {16, 1024}
    )


def _where(found: Callable[[ast.AST], bool], *, within: str = "") -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for path in SOURCES
        if str(path.relative_to(ROOT)).startswith(within)
        and any(found(node) for node in _nodes(path))
    }


@pytest.mark.parametrize(
    ("found", "within", "home"),
    [
        (_is_problem_literal, "", "auth/_problem.py"),
        (_is_denial_extension, "", "auth/_asgi.py"),
        (_is_word_split, "", "auth/_list_setting.py"),
        (_is_security_walk, "", "auth/fastapi/_openapi.py"),
        # The cap on an access token's length (app/ has a 16 KiB cap of its own).
        (_is_sixteen_kib, "auth", "auth/_access_token.py"),
    ],
    ids=["problem document", "websocket refusal", "list settings", "scheme walker", "token cap"],
)
def test_written_once(found: Callable[[ast.AST], bool], within: str, home: str) -> None:
    assert _where(found, within=within) == {home}


def test_the_finders_find_what_they_look_for() -> None:
    sample = ast.parse(
        'x = {"type": "about:blank"}\n"websocket.http.response" in e\n'
        'v.replace(",", " ")\nop.get("security")\ncap = 16 * 1024\n'
    )
    nodes = list(ast.walk(sample))
    for finder in (
        _is_problem_literal,
        _is_denial_extension,
        _is_word_split,
        _is_security_walk,
        _is_sixteen_kib,
    ):
        assert any(finder(node) for node in nodes), finder.__name__
