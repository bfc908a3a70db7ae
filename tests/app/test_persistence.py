"""Data outlives the process: restart the application against the same database."""

from __future__ import annotations

from typing import Any

import httpx

from auth.testing import TestIssuer
from tests.app.conftest import app_settings, auth_settings, running_app


async def _once(
    url: str, issuer: TestIssuer, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    """One request against a freshly started application (a restart between calls)."""
    async with running_app(app_settings(url), auth_settings(issuer)) as client:
        headers = {"Authorization": f"Bearer {issuer.token('persistent-user')}"}
        return await client.request(method, path, headers=headers, **kwargs)


async def test_todos_survive_an_application_restart(database_url: str, issuer: TestIssuer) -> None:
    created = await _once(database_url, issuer, "POST", "/api/todos", json={"text": "remember me"})
    assert created.status_code == 201
    path = f"/api/todos/{created.json()['id']}"
    listed = await _once(database_url, issuer, "GET", "/api/todos")
    assert [item["text"] for item in listed.json()["items"]] == ["remember me"]
    updated = await _once(database_url, issuer, "PATCH", path, json={"text": "remembered"})
    assert updated.json()["version"] == 2
    reread = await _once(database_url, issuer, "GET", path)
    assert reread.json()["text"] == "remembered"
