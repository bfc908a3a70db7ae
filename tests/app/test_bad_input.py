"""Bad input: a 4xx with one problem+json shape naming the field; nothing stored; never 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.app.conftest import Api, Caller

PROBLEM = "application/problem+json"


async def _assert_nothing_stored(caller: Caller) -> None:
    assert (await caller.get("/api/todos")).json()["items"] == []


def _field_errors(response: Any) -> dict[str, str]:
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == response.status_code
    return {error["field"]: error["message"] for error in body.get("errors", [])}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \t\n "}, "text"),
        ({"text": 42}, "text"),
        ({"text": None}, "text"),
        ({"text": ["a"]}, "text"),
        ({"text": "ok", "done": True}, "done"),
        ({"text": "ok", "owner_id": "someone"}, "owner_id"),
        ({"text": "nul\x00byte"}, "text"),
        ({}, "text"),
    ],
)
async def test_invalid_create_bodies_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    alice = api.caller()
    response = await alice.post("/api/todos", json=body)
    assert response.status_code == 422
    assert field in _field_errors(response)
    await _assert_nothing_stored(alice)


async def test_text_over_the_maximum_length_is_refused(api: Api) -> None:
    alice = api.caller()
    limit = api.settings.todo_text_max_length
    assert (await alice.post("/api/todos", json={"text": "x" * limit})).status_code == 201
    response = await alice.post("/api/todos", json={"text": "x" * (limit + 1)})
    assert response.status_code == 422
    assert "text" in _field_errors(response)


async def test_invalid_json_is_400(api: Api) -> None:
    alice = api.caller()
    response = await alice.post(
        "/api/todos", content=b'{"text": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "body" in _field_errors(response)
    await _assert_nothing_stored(alice)


async def test_a_huge_body_is_413(api: Api) -> None:
    alice = api.caller()
    huge = b'{"text": "' + b"x" * (api.settings.max_request_body_bytes + 1) + b'"}'
    response = await alice.post(
        "/api/todos", content=huge, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    await _assert_nothing_stored(alice)


async def test_a_huge_chunked_body_is_413(api: Api) -> None:
    alice = api.caller()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(200):
            yield b"x" * 1024
        yield b'"}'

    response = await alice.post(
        "/api/todos", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    await _assert_nothing_stored(alice)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"done": "yes"}, "done"),
        ({"done": 1}, "done"),
        ({"done": None}, "done"),
        ({"text": None}, "text"),
        ({"text": "  "}, "text"),
        ({"text": "ok", "version": 9}, "version"),
    ],
)
async def test_invalid_patch_bodies_are_422_and_change_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    alice = api.caller()
    todo = await alice.create("keep me")
    response = await alice.patch(f"/api/todos/{todo['id']}", json=body)
    assert response.status_code == 422
    assert field in _field_errors(response)
    assert (await alice.get(f"/api/todos/{todo['id']}")).json() == todo


@pytest.mark.parametrize("todo_id", ["not-a-uuid", "1", "01a221e2-c482-7c7f-9309", "' OR 1=1 --"])
async def test_malformed_ids_are_422_for_every_verb(api: Api, todo_id: str) -> None:
    alice = api.caller()
    for method in ("GET", "PATCH", "DELETE"):
        response = await alice.request(method, f"/api/todos/{todo_id}", json={"done": True})
        assert response.status_code == 422, method
        assert "todo_id" in _field_errors(response)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "many"}, "limit"),
        ({"done": "yes"}, "done"),
        ({"cursor": "!!!"}, "cursor"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "101"}, "limit"),
        # Only what next_cursor holds: base64 decoding alone would take these.
        ({"cursor": ""}, "cursor"),
        ({"cursor": "AAAAAAAAAAAAAAAAAAAAAA=="}, "cursor"),
        ({"cursor": "AAAAAAAAAAAAAAAAAAAAA!A"}, "cursor"),
    ],
)
async def test_invalid_query_parameters_are_422(
    api: Api, params: dict[str, str], field: str
) -> None:
    response = await api.caller().get("/api/todos", params=params)
    assert response.status_code == 422
    assert field in _field_errors(response)


@pytest.mark.parametrize("if_match", ["1", '"1', "W/1", '"1" "2"', '"1";"2"', '*, "1"', '"\x7f"'])
async def test_if_match_outside_its_syntax_is_422_and_changes_nothing(
    api: Api, if_match: str
) -> None:
    alice = api.caller()
    todo = await alice.create("keep me")
    path = f"/api/todos/{todo['id']}"
    patched = await alice.patch(path, json={"done": True}, headers={"If-Match": if_match})
    assert patched.status_code == 422
    assert "If-Match" in _field_errors(patched)
    deleted = await alice.delete(path, headers={"If-Match": if_match})
    assert deleted.status_code == 422
    assert (await alice.get(path)).json() == todo


async def test_unknown_routes_and_methods_use_the_same_shape(api: Api) -> None:
    alice = api.caller()
    not_found = await alice.get("/api/nothing-here")
    assert not_found.status_code == 404
    assert not_found.headers["content-type"] == PROBLEM
    not_allowed = await alice.request("PUT", "/api/todos")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["content-type"] == PROBLEM
    assert not_allowed.headers["allow"] == "GET, POST"
    one = await alice.request("PUT", "/api/todos/01a221e2-c482-7c7f-9309-7414f13ba091")
    assert one.headers["allow"] == "DELETE, GET, PATCH"


def _nested_body(depth: int) -> bytes:
    return b'{"text": ' + b"[" * (depth - 1) + b'"x"' + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_a_body_nested_deeper_than_the_bound_is_400_on_any_interpreter(
    api: Api, chunked: bool, parser_as_deep_as_python_313: None
) -> None:
    # Python 3.13 parses 5,000 nested arrays: the bound is explicit (app.api.body_limit),
    # checked before the parser recurses, not the parser's recursion limit.
    alice = api.caller()
    for depth in (33, 5000):
        body = _nested_body(depth)

        async def chunks(body: bytes = body) -> AsyncIterator[bytes]:
            yield body[: len(body) // 2]
            yield body[len(body) // 2 :]

        response = await alice.post(
            "/api/todos",
            content=chunks() if chunked else body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == PROBLEM
        assert _field_errors(response) == {"body": "nested too deeply"}
    # 32 levels is within the bound: the body reaches the route, which refuses its shape.
    response = await alice.post(
        "/api/todos", content=_nested_body(32), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    await _assert_nothing_stored(alice)


async def test_brackets_inside_strings_do_not_count_as_nesting(api: Api) -> None:
    response = await api.caller().post("/api/todos", json={"text": "[" * 200 + "{" * 200})
    assert response.status_code == 201
