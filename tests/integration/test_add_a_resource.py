"""docs/add-a-resource.md, followed on a copy of the repository: every ``python file=``
block written where it says, every ``diff`` block applied with ``git apply``, every ``sh``
block run in the copy's root (the guide's migration, its tests on SQLite and PostgreSQL,
the linters and mypy). Then the copy's API, started as users start it, serves the new
resource to two users: list, create, read, change under If-Match, delete, no sight of
the other's notes, and a live event numbered in the owner's seq. The guide's text is
what runs, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from auth.testing import TestIssuer
from tests.integration.conftest import api_env
from tests.services import ROOT, api_process

pytestmark = [pytest.mark.integration, pytest.mark.pg]

GUIDE = ROOT / "docs" / "add-a-resource.md"
# A fence opens with ``` and an info string and closes with a bare ```; the guide uses
# nothing more of Markdown than that, so this is all that is parsed.
_FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<text>.*?)^```$", re.MULTILINE | re.DOTALL)
_FILE = re.compile(r"python file=(?P<path>\S+)")


@dataclass(frozen=True)
class Step:
    kind: str  # "file", "diff" or "sh"
    text: str
    path: str = ""


def guide_steps(markdown: str) -> list[Step]:
    """The guide's blocks that change the repository or run, in order; others (the
    ``console`` example) are read by people only."""
    steps = []
    for block in _FENCE.finditer(markdown):
        info, text = block["info"].strip(), block["text"]
        if file := _FILE.fullmatch(info):
            steps.append(Step("file", text, file["path"]))
        elif info in ("diff", "sh"):
            steps.append(Step(info, text))
    return steps


def test_the_guide_has_a_step_of_each_kind() -> None:
    # The checker checked: a guide whose blocks lost their markers would run nothing.
    kinds = [step.kind for step in guide_steps(GUIDE.read_text())]
    assert kinds == ["file", "diff", "sh", "file", "sh"], kinds


def _tracked_copy(destination: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    for name in listed.decode().split("\0"):
        source = ROOT / name
        if name and source.is_file() and not source.is_symlink():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    # The running virtual environment, shared (the checkout's .venv, or the one a
    # container run installs elsewhere): the copy's own code comes first on PYTHONPATH,
    # so ``app`` and ``tests`` are the copy's.
    (destination / ".venv").symlink_to(Path(sys.prefix))
    return destination


def _run(step: Step, root: Path) -> None:
    if step.kind == "file":
        target = root / step.path
        assert not target.exists(), f"{step.path} exists before the guide writes it"
        target.write_text(step.text)
        return
    if step.kind == "diff":
        command = ["git", "apply", "--recount", "-"]
    else:
        command = ["bash", "-euo", "pipefail", "-c", step.text]
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        command,
        cwd=root,
        input=step.text if step.kind == "diff" else None,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (
        f"{step.kind} step failed:\n{step.text}\n{done.stdout}{done.stderr}"
    )


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with every step of the guide done."""
    root = _tracked_copy(tmp_path_factory.mktemp("guide") / "repository")
    versions = set((root / "migrations" / "versions").iterdir())
    for step in guide_steps(GUIDE.read_text()):
        _run(step, root)
    (migration,) = set((root / "migrations" / "versions").iterdir()) - versions
    assert 'op.create_table(\n        "notes"' in migration.read_text(), migration.read_text()
    return root


def test_the_guide_adds_a_resource_that_two_users_can_use(
    followed: Path, issuer: TestIssuer, tmp_path: Path
) -> None:
    alice = {"Authorization": f"Bearer {issuer.token('alice')}"}
    bob = {"Authorization": f"Bearer {issuer.token('bob')}"}
    with api_process(api_env(issuer), workdir=tmp_path, root=followed) as api:
        notes = f"{api.base_url}/api/notes"
        ws_url = api.base_url.replace("http://", "ws://") + "/api/ws"
        protocols = ["todo.v1", f"authorization_bearer_{issuer.token('alice')}"]
        with connect(ws_url, subprotocols=protocols) as socket:  # type: ignore[arg-type]
            ready = json.loads(socket.recv(timeout=5))
            assert ready["type"] == "ready"
            created = httpx.post(notes, json={"title": "Groceries"}, headers=alice)
            assert created.status_code == 201, created.text
            note = created.json()
            event = json.loads(socket.recv(timeout=5))
            assert event == {"type": "note.created", "note": note, "seq": ready["seq"] + 1}
        path = f"{notes}/{note['id']}"
        assert httpx.get(notes, headers=alice).json() == {"items": [note], "next_cursor": None}
        assert httpx.get(path, headers=alice).json() == note
        changed = httpx.patch(path, json={"body": "milk"}, headers={**alice, "If-Match": '"1"'})
        assert (changed.status_code, changed.headers["ETag"]) == (200, '"2"')
        stale = httpx.patch(path, json={"body": "eggs"}, headers={**alice, "If-Match": '"1"'})
        assert stale.status_code == 412
        # Bob sees none of it, and cannot touch it: not found, never forbidden.
        assert httpx.get(notes, headers=bob).json()["items"] == []
        for method in ("GET", "PATCH", "DELETE"):
            response = httpx.request(method, path, json={"pinned": True}, headers=bob)
            assert response.status_code == 404, method
        deleted = httpx.delete(path, headers={**alice, "If-Match": '"2"'})
        assert deleted.status_code == 204
        assert httpx.get(path, headers=alice).status_code == 404
        document = httpx.get(f"{api.base_url}/openapi.json").json()
        assert {"/api/notes", "/api/notes/{note_id}", "/api/todos"} <= set(document["paths"])
