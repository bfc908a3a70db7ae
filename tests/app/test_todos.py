"""CRUD, pagination, filters and optimistic concurrency of ``/api/todos``."""

from __future__ import annotations

import pytest

from tests.app.conftest import Api


async def test_created_todo_is_returned_with_location_and_etag(api: Api) -> None:
    alice = api.caller()
    response = await alice.post("/api/todos", json={"text": "buy milk"})
    assert response.status_code == 201
    todo = response.json()
    assert todo["text"] == "buy milk"
    assert todo["done"] is False
    assert todo["version"] == 1
    assert response.headers["location"] == f"/api/todos/{todo['id']}"
    assert response.headers["etag"] == '"1"'
    fetched = await alice.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == todo
    assert fetched.headers["etag"] == '"1"'


async def test_ids_are_opaque_uuids_not_counters(api: Api) -> None:
    alice = api.caller()
    first, second = await alice.create("a"), await alice.create("b")
    assert len(first["id"]) == 36
    assert first["id"] != second["id"]
    assert not first["id"].isdigit()


async def test_patch_changes_text_and_done_and_bumps_version(api: Api) -> None:
    alice = api.caller()
    todo = await alice.create()
    response = await alice.patch(f"/api/todos/{todo['id']}", json={"done": True})
    assert response.status_code == 200
    assert response.json()["done"] is True
    assert response.json()["version"] == 2
    assert response.headers["etag"] == '"2"'
    response = await alice.patch(f"/api/todos/{todo['id']}", json={"text": "buy oat milk"})
    assert response.json()["text"] == "buy oat milk"
    assert response.json()["done"] is True
    assert response.json()["updated_at"] >= todo["updated_at"]


async def test_delete_removes_the_todo(api: Api) -> None:
    alice = api.caller()
    todo = await alice.create()
    assert (await alice.delete(f"/api/todos/{todo['id']}")).status_code == 204
    assert (await alice.get(f"/api/todos/{todo['id']}")).status_code == 404
    assert (await alice.delete(f"/api/todos/{todo['id']}")).status_code == 404


async def test_list_is_newest_first_and_paginates_with_a_cursor(api: Api) -> None:
    alice = api.caller()
    created = [await alice.create(f"todo {index}") for index in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await alice.get("/api/todos", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [todo["id"] for todo in reversed(created)]


async def test_list_filters_on_done(api: Api) -> None:
    alice = api.caller()
    open_todo, done_todo = await alice.create("open"), await alice.create("done")
    await alice.patch(f"/api/todos/{done_todo['id']}", json={"done": True})
    done_items = (await alice.get("/api/todos", params={"done": "true"})).json()["items"]
    open_items = (await alice.get("/api/todos", params={"done": "false"})).json()["items"]
    assert [item["id"] for item in done_items] == [done_todo["id"]]
    assert [item["id"] for item in open_items] == [open_todo["id"]]


async def test_list_limit_is_bounded(api: Api) -> None:
    alice = api.caller()
    response = await alice.get("/api/todos", params={"limit": api.settings.page_size_max + 1})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"
    assert (await alice.get("/api/todos", params={"limit": 0})).status_code == 422


async def test_patch_with_current_if_match_applies(api: Api) -> None:
    alice = api.caller()
    todo = await alice.create()
    response = await alice.patch(
        f"/api/todos/{todo['id']}", json={"done": True}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200


async def test_patch_with_stale_if_match_is_412_and_changes_nothing(api: Api) -> None:
    alice = api.caller()
    todo = await alice.create("original")
    await alice.patch(f"/api/todos/{todo['id']}", json={"text": "second"})
    stale = await alice.patch(
        f"/api/todos/{todo['id']}", json={"text": "third"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    current = (await alice.get(f"/api/todos/{todo['id']}")).json()
    assert current["text"] == "second"
    assert current["version"] == 2


async def test_delete_with_stale_if_match_is_412_and_deletes_nothing(api: Api) -> None:
    alice = api.caller()
    todo = await alice.create()
    await alice.patch(f"/api/todos/{todo['id']}", json={"done": True})
    response = await alice.delete(f"/api/todos/{todo['id']}", headers={"If-Match": '"1"'})
    assert response.status_code == 412
    assert (await alice.get(f"/api/todos/{todo['id']}")).status_code == 200
    assert (
        await alice.delete(f"/api/todos/{todo['id']}", headers={"If-Match": '"2"'})
    ).status_code == 204


async def test_weak_etag_never_matches_if_match(api: Api) -> None:
    alice = api.caller()
    todo = await alice.create()
    response = await alice.patch(
        f"/api/todos/{todo['id']}", json={"done": True}, headers={"If-Match": 'W/"1"'}
    )
    assert response.status_code == 412


async def test_if_match_star_and_lists_are_understood(api: Api) -> None:
    alice = api.caller()
    todo = await alice.create()
    star = await alice.patch(
        f"/api/todos/{todo['id']}", json={"done": True}, headers={"If-Match": "*"}
    )
    assert star.status_code == 200
    listed = await alice.patch(
        f"/api/todos/{todo['id']}", json={"done": False}, headers={"If-Match": '"7", "2"'}
    )
    assert listed.status_code == 200


async def test_without_if_match_last_writer_wins(api: Api) -> None:
    alice = api.caller()
    todo = await alice.create()
    await alice.patch(f"/api/todos/{todo['id']}", json={"text": "first writer"})
    response = await alice.patch(f"/api/todos/{todo['id']}", json={"text": "second writer"})
    assert response.status_code == 200
    assert response.json()["text"] == "second writer"


@pytest.mark.parametrize(
    "version",
    ["2147483648", "4294967296", "999999999999999999", "9223372036854775808"],
)
async def test_if_match_beyond_the_version_column_is_412_on_every_database(
    api: Api, version: str
) -> None:
    # The version column is an SQL INTEGER (PostgreSQL int4): a number it cannot hold is
    # no version of any todo, refused as one (412) before reaching the driver, which on
    # PostgreSQL failed the request with a 500 and a traceback.
    alice = api.caller()
    todo = await alice.create("bounded")
    tag = {"If-Match": f'"{version}"'}
    patched = await alice.patch(f"/api/todos/{todo['id']}", json={"done": True}, headers=tag)
    deleted = await alice.delete(f"/api/todos/{todo['id']}", headers=tag)
    assert (patched.status_code, deleted.status_code) == (412, 412)
    assert patched.headers["content-type"] == "application/problem+json"
    listed = await alice.patch(
        f"/api/todos/{todo['id']}", json={"done": True}, headers={"If-Match": f'"{version}", "1"'}
    )
    assert listed.status_code == 200  # the list's other tag still names the version


async def test_if_match_at_the_columns_largest_value_is_compared(api: Api) -> None:
    alice = api.caller()
    todo = await alice.create("at the edge")
    response = await alice.patch(
        f"/api/todos/{todo['id']}", json={"done": True}, headers={"If-Match": '"2147483647"'}
    )
    assert response.status_code == 412
