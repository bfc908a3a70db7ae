"""`docker compose up --build --wait` of docker-compose.yml, as a user runs it, then the
end-to-end suite and a browser login against what came up, then `down --volumes`.

The stack is the file's own: its images (or the stand-ins named by the image variables),
its realm import, its PostgreSQL, Redis and SPA. Only the published ports differ
(tests/compose/stack.py published_ports), and the SPA's origin on that port is added to
the todo-spa client's redirect URIs through Keycloak's admin API.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, expect  # feature: frontend-mock

from tests.browser.spa import Spa, add_todo, headless_chromium  # feature: frontend-mock
from tests.compose.stack import ComposeUnavailable, Engine, Stack, published_ports
from tests.e2e.conftest import KeycloakAdmin  # feature: frontend-mock
from tests.services import ROOT

pytestmark = [pytest.mark.compose, pytest.mark.timeout(1800)]

SERVICES = {
    "keycloak",
    "postgres",
    "redis",
    "api",
    "frontend-mock",  # feature: frontend-mock
}
#: Every e2e test that needs neither to stop the servers nor the suite's own API.
E2E_SELECTION = "e2e and not own_servers"


@pytest.fixture(scope="module")
def stack(docker_engine: Engine, images: dict[str, str]) -> Iterator[Stack]:
    stack = Stack(docker_engine, published_ports(), images)
    try:
        stack.up()
    except ComposeUnavailable:
        with contextlib.suppress(ComposeUnavailable):
            stack.down()
        raise
    try:
        yield stack
    finally:
        stack.down()


def _password_token(stack: Stack, user: str) -> str:
    response = httpx.post(
        f"{stack.issuer}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "todo-test",
            "client_secret": "todo-test-secret",
            "username": user,
            "password": f"{user}-password",
        },
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def test_every_service_runs_healthy_on_the_images_it_was_given(
    stack: Stack, images: dict[str, str]
) -> None:
    services = {str(service["Service"]): service for service in stack.services()}
    assert set(services) == SERVICES
    for name, service in services.items():
        assert service["State"] == "running", (name, service)
        assert service["Health"] == "healthy", (name, service)
    for name, variable in [
        ("keycloak", "KEYCLOAK_IMAGE"),
        ("postgres", "POSTGRES_IMAGE"),
        ("redis", "REDIS_IMAGE"),
    ]:
        assert services[name]["Image"] == images[variable]


def test_the_api_refuses_a_request_without_a_token(stack: Stack) -> None:
    response = httpx.get(f"{stack.api_url}/api/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_api_is_ready_with_postgresql_keycloak_and_redis(stack: Stack) -> None:
    admin = _password_token(stack, "carol")  # todo-admin: the readiness detail
    readiness = httpx.get(
        f"{stack.api_url}/api/admin/readiness", headers={"Authorization": f"Bearer {admin}"}
    ).json()
    assert readiness["ready"] is True
    assert set(readiness["checks"]) >= {"database", "auth", "redis"}
    assert readiness["checks"]["auth"]["issuer_reachable"] is True


def test_a_todo_created_through_the_api_is_a_row_in_postgresql(stack: Stack) -> None:
    text = f"stored in postgres {uuid.uuid4()}"
    created = httpx.post(
        f"{stack.api_url}/api/todos",
        json={"text": text},
        headers={"Authorization": f"Bearer {_password_token(stack, 'alice')}"},
    )
    assert created.status_code == 201
    with psycopg.connect(stack.postgres_url) as connection:
        rows = connection.execute(
            "SELECT todos.done, users.issuer FROM todos JOIN users ON users.id = todos.owner_id"
            " WHERE todos.text = %s",
            (text,),
        ).fetchall()
    assert rows == [(False, stack.issuer)]


def test_the_end_to_end_suite_passes_against_the_stack(stack: Stack) -> None:
    """tests/e2e pointed at the stack by its settings: it starts no server of its own."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("E2E_")}
    environment |= {
        "E2E_API_URL": stack.api_url,
        "E2E_ISSUER": stack.issuer,
        "E2E_KEYCLOAK_ADMIN": "admin",  # the compose file's test-only bootstrap admin
        "E2E_KEYCLOAK_ADMIN_PASSWORD": "admin",
        "E2E_API_LEEWAY_SECONDS": "30",  # the API's default OIDC_LEEWAY_SECONDS
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/e2e",
            "-m",
            E2E_SELECTION,
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    print(result.stdout[-6000:])  # the inner run's report, for the record
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed, summary
    assert int(passed.group(1)) >= 14, summary  # tests/e2e's deployment-ready tests
    assert not re.search(r"skipped|xfailed|xpassed|error", summary), summary


# feature: frontend-mock begin
# -- the SPA, in a browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def spa_origin_registered(stack: Stack) -> str:
    """The SPA's origin on the stack's port, added to todo-spa's redirect URIs, web
    origins and post-logout redirect URIs (the realm file names port 5173 only)."""
    admin = KeycloakAdmin(stack.keycloak_url, "admin", "admin")
    with admin.client() as keycloak:
        client = keycloak.get("/todo/clients", params={"clientId": "todo-spa"}).json()[0]
        client["redirectUris"].append(f"{stack.spa_url}/*")
        client["webOrigins"].append(stack.spa_url)
        attributes = client.setdefault("attributes", {})
        logout_uris = attributes.get("post.logout.redirect.uris", "")
        attributes["post.logout.redirect.uris"] = "##".join(
            filter(None, [logout_uris, f"{stack.spa_url}/*"])
        )
        response = keycloak.put(f"/todo/clients/{client['id']}", json=client)
        assert response.status_code == 204, response.text
    return stack.spa_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as chromium:
        yield chromium


def test_alice_logs_in_to_the_compose_spa_and_adds_a_todo(
    stack: Stack, spa_origin_registered: str, browser: Browser
) -> None:
    spa = Spa(browser, spa_origin_registered, stack.api_url, stack.keycloak_url)
    try:
        tab = spa.open("alice")
        page = tab.page
        expect(page.get_by_test_id("mode")).to_contain_text(stack.issuer)
        assert spa.log_in(tab, "alice"), "Keycloak's login form was not shown"
        expect(page.get_by_test_id("user-email")).to_have_text("alice@example.test")
        expect(page.get_by_test_id("user-client-id")).to_have_text("todo-spa")
        expect(page.get_by_test_id("user-issuer")).to_have_text(stack.issuer)
        expect(page.get_by_test_id("dpop-bound")).to_have_attribute("data-value", "true")
        add_todo(tab, "added in the compose SPA")
        expect(page.get_by_test_id("error")).to_have_count(0)
    finally:
        spa.close()


# feature: frontend-mock end
