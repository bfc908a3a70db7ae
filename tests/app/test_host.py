"""The ``Host`` header as an attacker writes it (RFC 9112 §3.2, RFC 3986 §3.2): it never
moves the URL a DPoP proof is checked against, and an invalid one is refused with 400
before any routing or authentication."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from auth.testing import DpopKey, TestIssuer
from tests.app.conftest import API, Api, app_settings, auth_settings, running_app

API_HOST = API.removeprefix("http://")


@pytest.fixture(params=[None, API], ids=["host-header", "public-url"])
async def api(
    request: pytest.FixtureRequest, database_url: str, issuer: TestIssuer
) -> AsyncIterator[Api]:
    settings = app_settings(database_url)
    async with running_app(settings, auth_settings(issuer, public_url=request.param)) as client:
        yield Api(client, issuer, settings)


async def test_a_delete_proof_for_one_todo_cannot_delete_another_through_the_host(
    api: Api,
) -> None:
    key = DpopKey()
    token = api.issuer.token("host-victim", dpop_key=key)
    owner = {"Authorization": f"DPoP {token}"}

    async def create(text: str) -> str:
        proof = key.proof("POST", f"{API}/api/todos", access_token=token)
        response = await api.client.post(
            "/api/todos", json={"text": text}, headers={**owner, "DPoP": proof}
        )
        assert response.status_code == 201, response.text
        todo_id: str = response.json()["id"]
        return todo_id

    todo_a, todo_b = await create("a"), await create("b")
    # An unused proof the client made to delete A, sent to delete B with a Host that
    # would make the server expect A's URL if it built the URL from the header.
    proof_for_a = key.proof("DELETE", f"{API}/api/todos/{todo_a}", access_token=token)
    response = await api.client.delete(
        f"/api/todos/{todo_b}",
        headers={**owner, "DPoP": proof_for_a, "Host": f"{API_HOST}/api/todos/{todo_a}?"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    listed = await api.client.get(
        "/api/todos",
        headers={**owner, "DPoP": key.proof("GET", f"{API}/api/todos", access_token=token)},
    )
    assert {item["id"] for item in listed.json()["items"]} == {todo_a, todo_b}


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "api.test/api/todos?"},
        {"Host": "user@api.test"},
        {"Host": ""},
        {"Host": "api.test:80:80"},
    ],
    ids=["path-and-query", "userinfo", "empty", "two-ports"],
)
async def test_an_invalid_host_is_400_before_authentication(
    api: Api, headers: dict[str, str]
) -> None:
    # No credentials at all: without the guard this would be a 401.
    response = await api.client.get("/api/me", headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 400
    assert "www-authenticate" not in response.headers


async def test_a_valid_host_with_a_port_is_served(api: Api) -> None:
    caller = api.caller()
    response = await caller.get("/api/me", headers={"Host": "API.Test:8080"})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/todos/", "/api/me/", "/healthz/"])
async def test_no_response_carries_a_url_built_from_the_host(api: Api, path: str) -> None:
    # A valid but foreign Host passes the guard; nothing may echo it back as a URL.
    # Starlette's trailing-slash redirect did: "Location: http://evil.example/api/todos"
    # (an open redirect, and a cache-poisoning vector behind a shared cache).
    response = await api.caller().get(path, headers={"Host": "evil.example"})
    assert "location" not in response.headers
    assert "evil.example" not in response.text
