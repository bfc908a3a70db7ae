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


@dataclass(frozen=True, slots=True)
class Answers:
    """What the generator needs of copier's answers."""

    project: ProjectNames
    #: The development realm, when the bundled Keycloak was chosen.
    realm: RealmNames | None
    live_updates: bool
    frontend_mock: bool

    @property
    def kept(self) -> frozenset[str]:
        """The features the service keeps (``generator.features``)."""
        kept = {"todo"}
        if self.live_updates:
            kept |= {"live", "bench"}
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
    arguments = parser.parse_args(argv)
    return Answers(
        project=ProjectNames(arguments.name, arguments.slug),
        realm=RealmNames(arguments.realm) if arguments.realm else None,
        live_updates=arguments.live_updates,
        frontend_mock=arguments.frontend_mock,
    )


def generate(root: Path, answers: Answers) -> None:
    """Edit the copy at ``root`` into the service of ``answers``.

    Raises:
        MarkerError: a marker in the copy is malformed.
        AnswerError: an anchor of an edit is missing.
    """
    cut_tree(root, answers.kept)
    rename_project(root, answers.project)
    if answers.realm is not None:
        write_development_realm(root, answers.realm, answers.project)


def main(argv: Sequence[str] | None = None, root: Path | None = None) -> int:
    try:
        answers = parse_answers(sys.argv[1:] if argv is None else argv)
        generate(Path.cwd() if root is None else root, answers)
    except (AnswerError, MarkerError) as error:
        print(f"generator: {error}", file=sys.stderr)
        return 1
    return 0
