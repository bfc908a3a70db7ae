"""The generator's command line: the answers in, the new project edited in place."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.features import FEATURES, MarkerError, cut_tree
from generator.naming import AnswerError, ProjectNames, RealmNames
from generator.project import rename_project
from generator.realm import write_development_realm
from generator.resource import ResourceNames, formatted, replace_todo


@dataclass(frozen=True, slots=True)
class Answers:
    """What the generator needs of copier's answers."""

    project: ProjectNames
    #: The development realm, when the bundled Keycloak was chosen.
    realm: RealmNames | None
    live_updates: bool
    frontend_mock: bool
    #: The user's own resource in place of the TODO example; None keeps the example.
    resource: ResourceNames | None = None

    @property
    def kept(self) -> frozenset[str]:
        """The features the service keeps (``generator.features``)."""
        kept = set()
        if self.resource is None:
            kept.add("todo")
        if self.live_updates:
            kept.add("live")
        if self.live_updates and self.resource is None:
            kept.add("bench")  # it measures the TODO example and its live updates
        if self.frontend_mock:
            kept.add("frontend-mock")
        assert kept <= FEATURES  # noqa: S101 (a programming error, not an input one)
        return frozenset(kept)


def _flag(value: str) -> bool:
    # Copier renders booleans as True/False.
    if value not in {"True", "False", "true", "false"}:
        raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
    return value.lower() == "true"


def parse_answers(argv: Sequence[str]) -> Answers:
    """The answers, from the task's arguments.

    Raises:
        SystemExit: an argument is missing or malformed (argparse's message).
        AnswerError: an answer the generator cannot use.
    """
    parser = argparse.ArgumentParser(
        prog="generator",
        description="Turn a fresh copy of the template (the working directory) into the"
        " service the answers describe. Run by copier; see docs/generate.md.",
    )
    parser.add_argument("--name", required=True, help="the service's name, as written")
    parser.add_argument("--slug", required=True, help="its short name (lowercase, dashes)")
    parser.add_argument(
        "--realm", default="", help="the bundled Keycloak's development realm (empty: none)"
    )
    parser.add_argument("--live-updates", type=_flag, required=True)
    parser.add_argument("--frontend-mock", type=_flag, required=True)
    parser.add_argument(
        "--resource", default="", help="the own resource's name, singular (empty: the TODO)"
    )
    parser.add_argument("--plural", default="", help="its plural")
    arguments = parser.parse_args(argv)
    return Answers(
        project=ProjectNames(arguments.name, arguments.slug),
        realm=RealmNames(arguments.realm) if arguments.realm else None,
        live_updates=arguments.live_updates,
        frontend_mock=arguments.frontend_mock,
        resource=(
            ResourceNames(arguments.resource, arguments.plural or f"{arguments.resource}s")
            if arguments.resource
            else None
        ),
    )


def generate(root: Path, answers: Answers) -> None:
    """Edit the copy at ``root`` into the service of ``answers``.

    Raises:
        MarkerError: a marker in the copy is malformed.
        AnswerError: an anchor of an edit is missing.
    """
    rewritten = replace_todo(root, answers.resource) if answers.resource is not None else []
    cut_tree(root, answers.kept)  # after the todo's blocks were replaced
    rename_project(root, answers.project)
    if answers.realm is not None:
        write_development_realm(root, answers.realm, answers.project)
    if rewritten and not formatted(root, rewritten):
        print(
            "generator: ruff is not installed beside copier: run `make format` once in the"
            " new service, to wrap the test lines the resource's name lengthened",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None, root: Path | None = None) -> int:
    try:
        answers = parse_answers(sys.argv[1:] if argv is None else argv)
        generate(Path.cwd() if root is None else root, answers)
    except (AnswerError, MarkerError) as error:
        print(f"generator: {error}", file=sys.stderr)
        return 1
    return 0
