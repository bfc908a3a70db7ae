"""The todo list driven through the SPA, and what each API request carried."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.proofs import check_dpop_request, jwt_parts
from tests.browser.spa import ARTIFACTS, Spa, add_todo, expect_own_write
from tests.services import ApiProcess

pytestmark = pytest.mark.browser


def test_add_toggle_edit_and_delete_a_todo_with_dpop_proofs(
    spa_browser: Spa, api: ApiProcess
) -> None:
    tab = spa_browser.open("alice")
    spa_browser.log_in(tab, "alice")
    page = tab.page
    text = f"Buy oat milk {uuid.uuid4().hex[:8]}"

    todo = add_todo(tab, text)
    todo_id = todo.get_attribute("data-id")
    expect(todo).to_have_attribute("data-done", "false")
    expect_own_write(todo, 1)

    todo.get_by_test_id("todo-toggle").click()
    expect(todo).to_have_attribute("data-done", "true")
    expect_own_write(todo, 2)

    # The main screen, for people: who is logged in, a todo, the live pane.
    expect(page.locator('[data-testid="live-event"][data-type="todo.updated"]')).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "main-screen.png", full_page=True)

    todo.get_by_test_id("todo-edit").click()
    todo.get_by_test_id("todo-edit-input").fill(f"{text} and bread")
    todo.get_by_test_id("todo-save").click()
    expect(todo.get_by_test_id("todo-text")).to_have_text(f"{text} and bread")
    expect_own_write(todo, 3)

    todo.get_by_test_id("todo-delete").click()
    expect(todo).to_have_count(0)

    # The same tab's live pane saw its own changes, in order.
    events = page.locator('[data-testid="live-event"]:not([data-type="ready"])')
    expect(events).to_have_count(4)
    assert [events.nth(i).get_attribute("data-type") for i in range(4)] == [
        "todo.deleted",  # newest first
        "todo.updated",
        "todo.updated",
        "todo.created",
    ]
    expect(page.get_by_test_id("error")).to_have_count(0)

    # Every API request left the browser DPoP-bound: `Authorization: DPoP` and a proof
    # for its method and URL, signed by the key the token's cnf.jkt names.
    calls = {(r.method, r.url.removeprefix(api.base_url)) for r in tab.api_requests}
    assert {
        ("GET", "/api/me"),
        ("POST", "/api/todos"),
        ("PATCH", f"/api/todos/{todo_id}"),
        ("DELETE", f"/api/todos/{todo_id}"),
    } <= calls
    tokens = {check_dpop_request(request) for request in tab.api_requests}
    for token in tokens:
        assert jwt_parts(token)[1]["azp"] == "todo-spa"
    for request in tab.api_requests:
        response = request.response()
        assert response is not None
        assert response.ok, f"{request.method} {request.url} -> {response.status}"

    # ... and the API answered them as such (its access lines, JSON in production;
    # tokens never appear there).
    log = api.output()
    access = [json.loads(line) for line in log.splitlines() if '"logger": "app.access"' in line]
    answered = {(line["method"], line["path"], line["status"]) for line in access}
    assert {
        ("POST", "/api/todos", 201),
        ("PATCH", f"/api/todos/{todo_id}", 200),
        ("DELETE", f"/api/todos/{todo_id}", 204),
    } <= answered
    writes = [line for line in access if line["method"] in ("POST", "PATCH", "DELETE")]
    assert {(line["auth_scheme"], line["auth_outcome"]) for line in writes} == {("DPoP", "ok")}
    assert not any(token in log for token in tokens)
