"""The generator on a copy of this repository, for each combination of answers (copier's
own part, and each generated service's tests, run in the ``template`` tier)."""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from generator.cli import Answers, generate, main, parse_answers
from generator.features import _LOOKS_LIKE_MARKER, FEATURES, marked_features, text_files
from generator.naming import ProjectNames, RealmNames
from generator.resource import ResourceNames
from tests.template.generation import ROOT, copy_repository

RUFF = str(Path(sys.executable).with_name("ruff"))
VARIANTS = [
    pytest.param(live, spa, realm, None, id=f"live={live}-spa={spa}-realm={realm}")
    for (live, spa), realm in itertools.product(
        itertools.product([True, False], repeat=2), ["acme", None]
    )
] + [
    pytest.param(live, False, None, names, id=f"live={live}-resource={names.singular}")
    for live in (True, False)
    for names in (
        ResourceNames("pet", "pets"),
        ResourceNames("invoice_line_abroad", "invoice_lines_abroad"),  # the longest allowed
    )
]


def test_every_marker_in_the_repository_is_well_formed() -> None:
    marked: set[str] = set()
    for path in text_files(ROOT):
        marked |= marked_features(path.read_text(), source=str(path.relative_to(ROOT)))
    # Every feature but the example's own files is marked somewhere (a feature whose
    # markers all went would be a question that changes nothing).
    assert marked >= FEATURES - {"todo"}


@pytest.mark.parametrize(("live", "spa", "realm", "resource"), VARIANTS)
def test_every_variant_is_python_that_parses_with_no_marker_left(
    tmp_path: Path, live: bool, spa: bool, realm: str | None, resource: ResourceNames | None
) -> None:
    copy = copy_repository(tmp_path / "service")
    answers = Answers(
        project=ProjectNames("Acme Orders", "acme-orders"),
        realm=RealmNames(realm) if realm else None,
        live_updates=live,
        frontend_mock=spa,
        resource=resource,
    )
    if resource is not None:  # what copier leaves out with the example
        for example in ("app/data/todos.py", "tests/app/test_todos.py", "tests/app/test_crud.py"):
            (copy / example).unlink()
    generate(copy, answers)
    for path in text_files(copy):
        text = path.read_text()
        assert not any(_LOOKS_LIKE_MARKER.match(line) for line in text.splitlines()), path
        assert "# feature:" not in text, path
        assert "<!-- feature:" not in text, path
        if path.suffix == ".py":
            ast.parse(text, filename=str(path))
    for check in (["check", "--quiet"], ["format", "--check", "--quiet"]):
        linted = subprocess.run(
            [RUFF, *check, "."], cwd=copy, capture_output=True, text=True, check=False
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
    pyproject = tomllib.loads((copy / "pyproject.toml").read_text())
    assert "generator" not in pyproject["tool"]["mypy"]["files"]
    assert not any(
        m.startswith("template:") for m in pyproject["tool"]["pytest"]["ini_options"]["markers"]
    )
    readme = (copy / "README.md").read_text()
    assert "Make it yours" not in readme
    assert ("frontend-mock" in readme) is spa
    assert ("docs/websocket.md" in readme) is live
    assert (copy / "keycloak" / "acme-realm.json").exists() is (realm is not None)


def test_the_command_line_takes_copiers_rendering_of_the_answers() -> None:
    answers = parse_answers(
        [
            "--name=Acme Orders",
            "--slug=acme-orders",
            "--realm=",
            "--live-updates=False",
            "--frontend-mock=True",
        ]
    )
    assert answers.realm is None
    assert answers.kept == {"todo", "frontend-mock"}  # no bench without live updates


def test_an_unusable_answer_stops_the_generator_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--name=Acme", "--slug=Acme", "--live-updates=True", "--frontend-mock=True"]
    assert main(argv, root=tmp_path) == 1
    assert capsys.readouterr().err.startswith("generator: the project's short name must be")
