"""The live pane: WebSocket /api/ws with an application-level DPoP proof, one user's
changes fanned out to that user's other tabs and to nobody else."""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.proofs import check_dpop_proof, check_dpop_request
from tests.browser.spa import Spa, add_todo, expect_own_write, live_events, todo_item
from tests.services import ApiProcess

pytestmark = pytest.mark.browser


def test_the_socket_opens_with_an_application_level_dpop_proof(
    spa_browser: Spa, api: ApiProcess
) -> None:
    tab = spa_browser.open("bob")
    spa_browser.log_in(tab, "bob")

    # The upgrade request cannot carry a DPoP header: the first message is the proof,
    # for GET on the socket's http URL, bound to the token the page uses.
    message = json.loads(tab.ws_frames_sent[0])
    assert message["type"] == "auth.dpop"
    access_token = check_dpop_request(tab.api_requests[0])
    check_dpop_proof(
        message["proof"], access_token=access_token, htm="GET", htu=f"{api.base_url}/api/ws"
    )


def test_a_change_in_one_tab_appears_in_the_other(spa_browser: Spa) -> None:
    context = spa_browser.new_context()
    first = spa_browser.open("alice-1", context)
    spa_browser.log_in(first, "alice")
    second = spa_browser.open("alice-2", context)
    # Same browser: Keycloak's session cookie logs the second tab in without the form.
    assert not spa_browser.log_in(second, "alice")
    text = f"Shared across tabs {uuid.uuid4().hex[:8]}"

    created = add_todo(first, text)
    todo_id = created.get_attribute("data-id") or ""
    mirrored = todo_item(second.page, todo_id)
    expect(mirrored).to_have_count(1)
    expect(live_events(second, "todo.created", text)).to_have_count(1)

    # The second tab holds the ETag of its own writes only: these are its writes.
    second.focus()
    mirrored.get_by_test_id("todo-toggle").click()
    expect(created).to_have_attribute("data-done", "true")
    expect_own_write(mirrored, 2)
    mirrored.get_by_test_id("todo-edit").click()
    mirrored.get_by_test_id("todo-edit-input").fill(f"{text}, edited")
    mirrored.get_by_test_id("todo-save").click()
    expect(created.get_by_test_id("todo-text")).to_have_text(f"{text}, edited")
    expect(live_events(first, "todo.updated", text)).to_have_count(2)
    expect_own_write(mirrored, 3)

    mirrored.get_by_test_id("todo-delete").click()
    expect(created).to_have_count(0)
    expect(live_events(first, "todo.deleted", todo_id)).to_have_count(1)
    for tab in (first, second):
        expect(tab.page.get_by_test_id("error")).to_have_count(0)


def test_a_stale_write_is_refused_with_412_shown_and_the_retry_succeeds(spa_browser: Spa) -> None:
    context = spa_browser.new_context()
    first = spa_browser.open("alice-1", context)
    spa_browser.log_in(first, "alice")
    second = spa_browser.open("alice-2", context)
    spa_browser.log_in(second, "alice")
    text = f"Contended {uuid.uuid4().hex[:8]}"
    created = add_todo(first, text)
    mirrored = todo_item(second.page, created.get_attribute("data-id") or "")

    second.focus()
    mirrored.get_by_test_id("todo-toggle").click()  # version 2, made in the second tab
    expect_own_write(mirrored, 2)
    expect(created).to_have_attribute("data-version", "2")

    # The first tab still holds version 1's ETag: If-Match fails, the page says so,
    # forgets the ETag and reloads the list; the next write is unconditional.
    first.focus()
    created.get_by_test_id("todo-toggle").click()
    expect(first.page.get_by_test_id("error")).to_have_attribute("data-status", "412")
    expect(created).to_have_attribute("data-etag", "")
    expect(created).to_have_attribute("data-done", "true")
    created.get_by_test_id("todo-toggle").click()
    expect(created).to_have_attribute("data-done", "false")
    expect(mirrored).to_have_attribute("data-done", "false")


def test_two_users_see_neither_each_others_todos_nor_events(spa_browser: Spa) -> None:
    alice = spa_browser.open("alice")
    spa_browser.log_in(alice, "alice")
    bob = spa_browser.open("bob")  # a browser context of its own: no shared session
    spa_browser.log_in(bob, "bob")
    assert alice.page.get_by_test_id("user-subject").text_content() != (
        bob.page.get_by_test_id("user-subject").text_content()
    )
    tag = uuid.uuid4().hex[:8]
    alices, bobs = f"alice's secret {tag}", f"bob's secret {tag}"

    # Each user's own event on screen is a barrier for the other's earlier one: events
    # reach a socket in publication order, so a leaked event would be there already.
    add_todo(alice, alices)
    expect(live_events(alice, "todo.created", alices)).to_have_count(1)
    add_todo(bob, bobs)
    expect(live_events(bob, "todo.created", bobs)).to_have_count(1)
    add_todo(alice, f"alice's barrier {tag}")
    expect(live_events(alice, "todo.created", f"alice's barrier {tag}")).to_have_count(1)
    expect(bob.page.get_by_test_id("live-events")).not_to_contain_text(alices)
    expect(alice.page.get_by_test_id("live-events")).not_to_contain_text(bobs)

    for tab, own, other in ((alice, 2, "bob's"), (bob, 1, "alice's")):
        page = tab.focus()
        page.get_by_test_id("todos-refresh").click()
        expect(page.get_by_test_id("todo-item").filter(has_text=tag)).to_have_count(own)
        expect(page.get_by_test_id("todo-list")).not_to_contain_text(other)
        expect(page.get_by_test_id("error")).to_have_count(0)
