"""Another user's todo is a 404 for every verb: no existence oracle, no cross-user write."""

from __future__ import annotations

from tests.app.conftest import Api


async def test_users_see_only_their_own_todos(api: Api) -> None:
    alice, bob = api.caller("alice"), api.caller("bob")
    await alice.create("alice's")
    await bob.create("bob's")
    alice_items = (await alice.get("/api/todos")).json()["items"]
    bob_items = (await bob.get("/api/todos")).json()["items"]
    assert [item["text"] for item in alice_items] == ["alice's"]
    assert [item["text"] for item in bob_items] == ["bob's"]


async def test_another_users_todo_is_404_for_every_verb(api: Api) -> None:
    alice, bob = api.caller(), api.caller()
    todo = await alice.create("private")
    path = f"/api/todos/{todo['id']}"
    assert (await bob.get(path)).status_code == 404
    assert (await bob.patch(path, json={"done": True})).status_code == 404
    assert (
        await bob.patch(path, json={"done": True}, headers={"If-Match": '"1"'})
    ).status_code == 404
    assert (await bob.delete(path)).status_code == 404
    assert (await bob.delete(path, headers={"If-Match": '"1"'})).status_code == 404
    unchanged = (await alice.get(path)).json()
    assert unchanged == todo


async def test_foreign_and_missing_todos_answer_identically(api: Api) -> None:
    alice, bob = api.caller(), api.caller()
    todo = await alice.create()
    foreign = await bob.get(f"/api/todos/{todo['id']}")
    missing = await bob.get("/api/todos/01a221e2-c482-7c7f-9309-7414f13ba091")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


async def test_a_cursor_cannot_reach_into_another_users_list(api: Api) -> None:
    alice, bob = api.caller(), api.caller()
    for index in range(3):
        await alice.create(f"a{index}")
    cursor = (await alice.get("/api/todos", params={"limit": 1})).json()["next_cursor"]
    page = (await bob.get("/api/todos", params={"cursor": cursor})).json()
    assert page["items"] == []


async def test_same_subject_at_another_issuer_is_another_user(api: Api) -> None:
    alice = api.caller("alice")
    await alice.create("mine")
    # Same sub, different iss is a different person; but the API accepts one issuer only,
    # so a token from elsewhere is refused outright rather than mapped to alice.
    response = await alice.get(
        "/api/todos", headers={"Authorization": f"Bearer {alice.token(iss='https://evil.test')}"}
    )
    assert response.status_code == 401
