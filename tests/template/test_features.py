"""Marked lines: cut with their feature, unmarked when it stays, malformed markers refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.features import FEATURES, MarkerError, cut, cut_tree, marked_features

PYTHON = """\
import a
from b import live  # feature: live


# feature: live begin
def on_event() -> None:
    live.send()
# feature: live end


def main() -> None:
    routers = (
        a.router,
        live.router,  # feature: live
    )
"""


def test_an_unkept_features_lines_and_blocks_are_cut_with_their_spacing() -> None:
    assert cut(PYTHON, set()) == (
        "import a\n\n\ndef main() -> None:\n    routers = (\n        a.router,\n    )\n"
    )


def test_a_kept_feature_loses_only_its_markers() -> None:
    kept = cut(PYTHON, {"live"})
    assert "feature:" not in kept
    unmarked = PYTHON.replace("  # feature: live", "")
    assert kept == unmarked.replace("# feature: live begin\n", "").replace(
        "# feature: live end\n", ""
    )
    assert kept.count("def on_event") == 1
    assert "        live.router,\n" in kept


def test_markdown_and_typescript_comments_are_markers_too() -> None:
    text = (
        "| doc | for |\n| [ws](ws.md) | sockets | <!-- feature: live -->\n"
        "<!-- feature: template begin -->\n## Make it yours\n<!-- feature: template end -->\n"
        "connect();  // feature: live\nrender();\n"
    )
    assert cut(text, set()) == "| doc | for |\nrender();\n"
    assert cut(text, {"live", "template"}) == (
        "| doc | for |\n| [ws](ws.md) | sockets |\n## Make it yours\nconnect();\nrender();\n"
    )


def test_a_cut_at_the_end_leaves_no_trailing_blank_lines() -> None:
    assert cut("a = 1\n\n\n# feature: live begin\nb = 2\n# feature: live end\n", set()) == (
        "a = 1\n"
    )


def test_a_cut_inside_a_paragraph_keeps_the_following_lines() -> None:
    text = "first\nsecond  # feature: live\nthird\n\nfourth\n"
    assert cut(text, set()) == "first\nthird\n\nfourth\n"


def test_windows_line_endings_survive() -> None:
    assert cut("a  # feature: live\r\nb\r\n", {"live"}) == "a\r\nb\r\n"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("x  # feature: livee\n", "unknown feature 'livee'"),
        ("# feature: live begin\n# feature: todo begin\n", "'todo' opened inside 'live'"),
        ("# feature: live end\n", "end of 'live', which is not open"),
        ("# feature: live begin\nx\n", "'live' is never closed"),
        ("# feature: live begn\n", "not a marker"),
        ("# feature:live\n", None),  # a valid line marker on a comment line
    ],
)
def test_malformed_markers_are_refused_with_their_line(text: str, complaint: str | None) -> None:
    if complaint is None:
        assert cut(text, set()) == ""
        return
    with pytest.raises(MarkerError, match=complaint) as refused:
        cut(text, set(), source="f.py")
    assert str(refused.value).startswith("f.py:")


def test_markers_mentioned_in_prose_are_not_markers() -> None:
    prose = "Mark a line with a trailing `# feature: live`, a block with `begin` and `end`.\n"
    assert cut(prose, set()) == prose


def test_marked_features_names_the_features_a_text_marks() -> None:
    assert marked_features(PYTHON) == {"live"}
    assert {"bench", "live", "frontend-mock", "template", "todo"} == FEATURES


def test_cut_tree_edits_text_files_and_leaves_the_rest(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(PYTHON)
    (tmp_path / "data.json").write_text('{"a": "# feature: live"}\n')
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.js").write_text("y();  // feature: live\n")
    changed = cut_tree(tmp_path, set())
    assert changed == [tmp_path / "app" / "main.py"]
    assert "live" not in (tmp_path / "app" / "main.py").read_text()
    assert "feature" in (tmp_path / "data.json").read_text()
    assert "feature" in (tmp_path / "node_modules" / "x.js").read_text()


def test_the_wider_gap_around_a_cut_is_kept() -> None:
    # A method cut at the end of a class: the class and the next function stay two
    # blank lines apart, as if the method had never been there.
    text = (
        "class A:\n    def a(self) -> None: ...\n\n"
        "    # feature: live begin\n    def b(self) -> None: ...\n\n    # feature: live end\n"
        "\n\ndef c() -> None: ...\n"
    )
    assert cut(text, set()) == "class A:\n    def a(self) -> None: ...\n\n\ndef c() -> None: ...\n"


def test_a_kept_blocks_markers_leave_no_extra_blank_lines() -> None:
    text = (
        "class A:\n    def a(self) -> None: ...\n\n"
        "    # feature: live begin\n    def b(self) -> None: ...\n\n    # feature: live end\n"
        "\n\ndef c() -> None: ...\n"
    )
    assert cut(text, {"live"}) == (
        "class A:\n    def a(self) -> None: ...\n\n    def b(self) -> None: ...\n"
        "\n\ndef c() -> None: ...\n"
    )
