"""``copier copy`` of this repository, as a user runs it, for three sets of answers; then
each generated service's own checks and fast tier, and real requests to its
``python -m app`` configured by the ``.env`` the answers wrote.

The template is a git repository made of this working tree (tagged ``v1.0.0``), cloned by
copier as a user's copy clones the published one. Each service gets its own virtualenv
from its own ``uv.lock`` (``make setup``), offline: from the uv cache this repository's
``make setup`` filled.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import PostgresServer
from tests.template.generation import TAG, copier_copy, run, serve, uv
from tests.template.provider import StandInProvider, stand_in_provider

pytestmark = pytest.mark.template

ENTRA_TENANT = "9122040d-6c67-4c5b-b112-36a304b66dad"
ENTRA_CLIENT = "6e74172b-be56-4843-9ff4-e66a39bb12e3"


@dataclass(frozen=True)
class AnswerSet:
    """A user's answers, and what the service they make must then do."""

    name: str
    answers: dict[str, Any]
    slug: str
    #: The token the provider would issue for the service's API.
    typ: str
    claims: dict[str, Any]
    #: The resource the service serves, and a body that creates one.
    resource: str = "/api/todos"
    body: dict[str, Any] = field(default_factory=lambda: {"text": "from the generated service"})


KEYCLOAK = AnswerSet(
    name="keycloak",
    answers={"project_name": "Acme Orders", "identity_provider": "bundled-keycloak"},
    slug="acme-orders",
    typ="at+jwt",
    claims={
        "aud": ["acme-orders-api"],
        "client_id": "acme-orders-spa",
        "azp": "acme-orders-spa",
        "jti": "k1",
        "scope": "openid profile",
        "realm_access": {"roles": ["acme-orders-user", "acme-orders-admin"]},
    },
)
AUTH0 = AnswerSet(
    name="auth0",
    answers={
        "project_name": "Pet Clinic",
        "identity_provider": "auth0",
        "oidc_issuer": "https://example.eu.auth0.com/",
        "oidc_audience": "https://api.petclinic.example",
        "example": "own",
        "resource_name": "pet",
        "live_updates": False,
    },
    slug="pet-clinic",
    typ="JWT",
    claims={
        "aud": ["https://api.petclinic.example", "https://example.eu.auth0.com/userinfo"],
        "azp": "Zx8mVQ2rJ1c4lT0pk9Yb",
        "scope": "openid profile",
    },
    resource="/api/pets",
    body={"title": "Rex"},
)
ENTRA = AnswerSet(
    name="entra",
    answers={
        "project_name": "Field Notes",
        "identity_provider": "entra",
        "oidc_issuer": f"https://login.microsoftonline.com/{ENTRA_TENANT}/v2.0",
        "oidc_audience": ENTRA_CLIENT,
        "database": "postgresql",
        "frontend_mock": False,
    },
    slug="field-notes",
    typ="JWT",
    claims={
        "aud": ENTRA_CLIENT,
        "azp": "1f5a2e7b-6f0c-4d8e-9a43-6f1e5f0f9c21",
        "azpacr": "0",
        "scp": "access_as_user",
        "roles": ["todo-admin"],
        "tid": ENTRA_TENANT,
        "oid": "a3b1c2d4-0000-4000-8000-000000000001",
        "ver": "2.0",
        "uti": "Zr1lZQ",
    },
)


@dataclass
class Service:
    """A generated service, set up with its own virtualenv."""

    root: Path
    answer_set: AnswerSet
    #: The answers given, the database URL among them when it was asked.
    answers: dict[str, Any]

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    def env_file(self) -> dict[str, str]:
        values = {}
        for line in (self.root / ".env").read_text().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key] = value
        return values

    def make(self, *targets: str) -> subprocess.CompletedProcess[str]:
        return run(["make", *targets, f"UV={uv()}"], self.root)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(KEYCLOAK, id="keycloak"),
        pytest.param(AUTH0, id="auth0"),
        pytest.param(ENTRA, id="entra-postgresql", marks=pytest.mark.pg),
    ],
)
def service(
    request: pytest.FixtureRequest,
    template_repository: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Service:
    answer_set: AnswerSet = request.param
    answers = dict(answer_set.answers)
    if answers.get("database") == "postgresql":
        postgres: PostgresServer = request.getfixturevalue("postgres")
        url = postgres.create_database(f"notes_{uuid.uuid4().hex[:8]}")
        # The form hosting platforms hand out.
        answers["database_url"] = url.replace("postgresql+psycopg://", "postgres://")
    root = tmp_path_factory.mktemp(answer_set.name) / answer_set.slug
    copier_copy(template_repository, root, answers)
    generated = Service(root, answer_set, answers)
    generated.make("setup")
    return generated


def test_the_answers_are_where_they_belong(service: Service) -> None:
    answers = service.answers
    env = service.env_file()
    assert env["OIDC_MODE"] == "verify"
    if answers["identity_provider"] == "bundled-keycloak":
        realm = answers.get("keycloak_realm", service.answer_set.slug)
        assert env["OIDC_PROVIDER"] == "keycloak"
        assert env["OIDC_ISSUER_URI"] == f"http://127.0.0.1:8180/realms/{realm}"
        assert env["OIDC_AUDIENCE"] == f"{realm}-api"
        assert (service.root / "keycloak" / f"{realm}-realm.json").is_file()
    else:
        assert env["OIDC_PROVIDER"] == answers["identity_provider"]
        assert env["OIDC_ISSUER_URI"] == answers["oidc_issuer"]
        assert env["OIDC_AUDIENCE"] == answers["oidc_audience"]
        assert not list((service.root / "keycloak").glob(f"{service.answer_set.slug}*"))
    if answers.get("database") == "postgresql":
        assert env["DATABASE_URL"] == answers["database_url"]
    else:
        assert env["DATABASE_URL"] == f"sqlite:///./{service.answer_set.slug.replace('-', '_')}.db"
    pyproject = tomllib.loads((service.root / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == service.answer_set.slug
    readme = (service.root / "README.md").read_text()
    assert readme.startswith(f"# {answers['project_name']}\n")
    recorded = (service.root / ".copier-answers.yml").read_text()
    assert f"_commit: {TAG}" in recorded
    assert f"project_name: {answers['project_name']}" in recorded


def test_opted_out_files_are_not_generated(service: Service) -> None:
    answers = service.answer_set.answers
    root = service.root
    for machinery in ("copier.yml", "generator", "tests/template"):
        assert not (root / machinery).exists(), machinery
    spa = answers.get("frontend_mock", answers.get("example", "todo") == "todo")
    assert (root / "frontend-mock").is_dir() is spa
    assert (root / "tests" / "browser").is_dir() is spa
    live = answers.get("live_updates", True)
    for path in ("app/api/live.py", "app/api/routes/live.py", "docs/websocket.md"):
        assert (root / path).exists() is live, path
    assert list(root.glob("tests/**/test_live*.py")) != [] or not live
    if not live:
        live_only = r"websocket_protocol\.py|app/events/(connections|redis)\.py"
        mentions = _grep(root, rf"/api/ws\b|websocket\.md|app\.api\.live\b|{live_only}")
        assert mentions == [], mentions
    if not spa:
        mentions = _grep(root, r"frontend-mock|run-spa-mock")
        assert mentions == [], mentions
    own = answers.get("example") == "own"
    assert (root / "app" / "data" / "todos.py").exists() is not own
    assert (root / "tests" / "app" / "test_todos.py").exists() is not own
    assert (root / "bench").exists() is (live and not own)
    if own:
        plural = f"{answers['resource_name']}s"
        assert (root / "app" / "data" / f"{plural}.py").is_file()
        assert (root / "tests" / "app" / f"test_{plural}.py").is_file()
        assert [p.name for p in (root / "migrations" / "versions").glob("*.py")] == [
            f"0001_users_and_{plural}.py"
        ]
        # No code of the example is left (its name stays in a few comments that use it as
        # the example of what a resource is).
        code = r"\bTODOS\b|app\.data\.todos|__tablename__ = \"todos\""
        mentions = [line for part in ("app", "migrations") for line in _grep(root / part, code)]
        mentions += [
            line for line in _grep(root, r"/api/todos|\btodo_id\b") if line.startswith("tests/")
        ]
        assert mentions == [], mentions


def test_the_architecture_names_only_files_the_service_has(service: Service) -> None:
    text = (service.root / "docs" / "architecture.md").read_text()
    named = set(
        re.findall(r"\b((?:app|auth|bench|frontend-mock|migrations|tests)/[\w./-]*\w)", text)
    )
    assert named, "the page names no file"
    missing = sorted(path for path in named if not (service.root / path).exists())
    assert missing == [], missing


#: Not the service's own text: caches, the library's tests (any path is a string to
#: them), and the page that describes the template's questions.
_NOT_SEARCHED = {".venv", ".git", ".mypy_cache", ".ruff_cache", "tests/auth", "docs/generate.md"}


def _grep(root: Path, pattern: str) -> list[str]:
    """Lines matching ``pattern`` in the service's own text (not lock files or caches)."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if {relative.parts[0], "/".join(relative.parts[:2])} & _NOT_SEARCHED:
            continue
        if not path.is_file() or path.suffix in {".lock", ".json"} or path.name == "uv.lock":
            continue
        with contextlib.suppress(UnicodeDecodeError):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if re.search(pattern, line):
                    found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_lint_and_types_pass(service: Service) -> None:
    service.make("lint", "typecheck")


def test_its_own_fast_tier_passes(service: Service) -> None:
    result = service.make("test-fast")
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), summary
    assert "failed" not in summary
    assert "error" not in summary


def test_its_api_accepts_its_providers_token(service: Service, tmp_path: Path) -> None:
    env = service.env_file()
    answer_set = service.answer_set
    with stand_in_provider(env["OIDC_ISSUER_URI"], tmp_path) as provider:
        token = _token(provider, answer_set)
        with serve(
            service.root,
            service.python,
            OIDC_DISCOVERY_URI=provider.discovery_uri,
            SSL_CERT_FILE=str(provider.authority),
        ) as api:
            _exercise(api, answer_set, token)


def _token(provider: StandInProvider, answer_set: AnswerSet) -> str:
    now = int(time.time())
    claims = {"sub": "user-1", "iat": now, "nbf": now, "exp": now + 300, **answer_set.claims}
    return provider.token(claims, typ=answer_set.typ)


def _exercise(api: str, answer_set: AnswerSet, token: str) -> None:
    with httpx.Client(base_url=api, timeout=10) as client:
        refused = client.get(answer_set.resource)
        assert refused.status_code == 401
        assert f'realm="{answer_set.slug}"' in refused.headers["WWW-Authenticate"]
        assert (
            client.get("/openapi.json").json()["info"]["title"]
            == (answer_set.answers["project_name"])
        )
        headers = {"Authorization": f"Bearer {token}"}
        created = client.post(answer_set.resource, json=answer_set.body, headers=headers)
        assert created.status_code == 201, created.text
        listed = client.get(answer_set.resource, headers=headers)
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]
