"""docs/providers/keycloak.md as a program: its admin REST calls (the ``http`` blocks of
each numbered step), run in order against a real Keycloak.

A call is a request line (``POST /admin/realms/...``) and an optional JSON body. ``<id
of role todo-user>`` and the like stand for ids Keycloak gave objects made by earlier
steps; they are looked up by name through the same admin API, as a reader would.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.docs.checklists import checklist_path, sections

_REQUEST_LINE = re.compile(
    r"^(?P<method>GET|POST|PUT|DELETE) (?P<path>/admin/realms(?:.*\S)?)$", re.M
)
PLACEHOLDER = re.compile(r"<id of (?P<kind>role|client scope|client|user) (?P<name>[^>]+)>")
_REALM = re.compile(r"^/admin/realms/(?P<realm>[^/]+)/")


@dataclass(frozen=True)
class AdminCall:
    method: str
    path: str
    body: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Step:
    title: str
    calls: tuple[AdminCall, ...]


def checklist_steps() -> list[Step]:
    """The numbered steps of the Keycloak checklist that make admin calls, in order."""
    steps = []
    for section in sections(checklist_path("keycloak")):
        text = "\n".join(block.text for block in section.blocks if block.language == "http")
        lines = list(_REQUEST_LINE.finditer(text))
        ends = [following.start() for following in lines[1:]] + [len(text)]
        calls = tuple(
            AdminCall(line["method"], line["path"], text[line.end() : end].strip())
            for line, end in zip(lines, ends[: len(lines)], strict=True)
        )
        if calls:
            steps.append(Step(section.title, calls))
    return steps


def _lookup(admin: httpx.Client, realm: str, kind: str, name: str) -> str:
    base = f"/admin/realms/{realm}"
    found: list[dict[str, Any]]
    if kind == "role":
        found = [admin.get(f"{base}/roles/{name}").raise_for_status().json()]
    elif kind == "client":
        found = admin.get(f"{base}/clients", params={"clientId": name}).raise_for_status().json()
    elif kind == "user":
        params = {"username": name, "exact": "true"}
        found = admin.get(f"{base}/users", params=params).raise_for_status().json()
    else:
        scopes = admin.get(f"{base}/client-scopes").raise_for_status().json()
        found = [scope for scope in scopes if scope["name"] == name]
    if len(found) != 1:
        raise AssertionError(f"no single {kind} named {name!r} in realm {realm!r}: {found}")
    identifier: str = found[0]["id"]
    return identifier


def run_step(admin: httpx.Client, step: Step) -> None:
    """Make the step's calls; a refused call fails with the step's title and Keycloak's
    answer."""
    for call in step.calls:
        realm = _REALM.match(call.path)

        def resolve(text: str, realm: re.Match[str] | None = realm) -> str:
            if realm is None:
                return text
            return PLACEHOLDER.sub(
                lambda p: _lookup(admin, realm["realm"], p["kind"], p["name"]), text
            )

        body = json.loads(resolve(call.body)) if call.body else None
        response = admin.request(call.method, resolve(call.path), json=body)
        assert response.is_success, (
            f"step {step.title!r}: {call} answered {response.status_code} {response.text}"
        )
