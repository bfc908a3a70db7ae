"""``copier update``: a later template change reaches a generated service, and the
service's own edits survive it (docs/generate.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.template.generation import COPIER, copier_copy, git, run

pytestmark = pytest.mark.template

ANSWERS = {"project_name": "Acme Orders", "live_updates": False, "frontend_mock": False}
NEW_TAG = "v1.1.0"


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


@pytest.fixture
def template(template_repository: Path, tmp_path: Path) -> Path:
    """A clone of the template, free to take new commits."""
    clone = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", str(template_repository), str(clone))
    return clone


@pytest.fixture
def service(template: Path, tmp_path: Path) -> Path:
    """A service generated at ``TAG`` and committed, as its owner would."""
    root = tmp_path / "acme-orders"
    copier_copy(template, root, ANSWERS)
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "Acme Orders, from the template")
    return root


def _release(template: Path, message: str) -> None:
    git(template, "commit", "--quiet", "-am", message)
    git(template, "tag", NEW_TAG)


def update(service: Path) -> subprocess.CompletedProcess[str]:
    return run([str(COPIER), "update", "--trust", "--defaults", f"--vcs-ref={NEW_TAG}"], service)


def test_a_template_change_arrives_and_the_services_edits_survive(
    template: Path, service: Path
) -> None:
    # The owner's work: a section of their README, a route module of their own, a
    # setting of their own in .env.
    _append(service / "README.md", "\n## Our notes\n\nOrders ship on Tuesdays.\n")
    (service / "app" / "api" / "routes" / "orders.py").write_text('"""Our orders."""\n')
    _append(service / ".env", "LOG_LEVEL=DEBUG\n")
    git(service, "add", "-A")
    git(service, "commit", "--quiet", "-m", "Our notes and routes")
    env_before = (service / ".env").read_text()

    # The template's next release: a documented setting, a change in kept code, and a
    # line of a part this service turned off (live updates), which must not arrive.
    _append(template / "docs" / "configuration.md", "\nSettings are read once, at start-up.\n")
    health = template / "app" / "api" / "routes" / "health.py"
    health.write_text(health.read_text().replace('"""', '"""Probes. ', 1))
    settings = template / "app" / "settings.py"
    marked = "    live_send_queue_size: int = Field(default=256, ge=1)\n"
    assert marked in settings.read_text()
    settings.write_text(
        settings.read_text().replace(
            marked, marked + "    live_new_setting: int = 1  # feature: live\n"
        )
    )
    _release(template, "Template: a documented setting, probes described")

    update(service)

    assert (
        (service / "docs" / "configuration.md")
        .read_text()
        .endswith("Settings are read once, at start-up.\n")
    )
    assert (service / "app" / "api" / "routes" / "health.py").read_text().startswith('"""Probes. ')
    assert "live_new_setting" not in (service / "app" / "settings.py").read_text()
    assert (service / "README.md").read_text().endswith("Orders ship on Tuesdays.\n")
    assert (service / "app" / "api" / "routes" / "orders.py").exists()
    assert (service / ".env").read_text() == env_before
    assert f"_commit: {NEW_TAG}" in (service / ".copier-answers.yml").read_text()
    status = git(service, "status", "--porcelain")
    assert ".rej" not in status
    assert "<<<<<<<" not in git(service, "diff")


def test_a_change_both_sides_made_is_a_conflict_to_resolve(template: Path, service: Path) -> None:
    config = "docs/configuration.md"
    title = (service / config).read_text().splitlines()[0]
    for root, words in ((service, "Our settings"), (template, "Every setting")):
        path = root / config
        path.write_text(path.read_text().replace(title, f"# {words}", 1))
    git(service, "commit", "--quiet", "-am", "Our title")
    _release(template, "Template: a new title")

    update(service)

    text = (service / config).read_text()
    assert "<<<<<<< before updating" in text
    assert "# Our settings" in text
    assert "# Every setting" in text
