"""A database that goes away gives 503 (never 500), and the API recovers when it returns
without a restart; no write acknowledged before the outage is lost."""

from __future__ import annotations

import asyncio

import pytest

from auth.testing import TestIssuer
from tests.app.conftest import app_settings, auth_settings, running_app
from tests.services import postgres_server

pytestmark = pytest.mark.pg


async def test_postgres_outage_is_503_and_recovers(issuer: TestIssuer) -> None:
    with postgres_server() as server:
        url = server.create_database("outage")
        async with running_app(app_settings(url), auth_settings(issuer)) as client:
            headers = {"Authorization": f"Bearer {issuer.token('outage-user')}"}
            before = await client.post("/api/todos", json={"text": "kept"}, headers=headers)
            assert before.status_code == 201

            server.stop("immediate")
            during = await client.post("/api/todos", json={"text": "lost"}, headers=headers)
            assert during.status_code == 503
            assert during.headers["content-type"] == "application/problem+json"
            assert (await client.get("/readyz")).json()["checks"]["database"] == "not ok"

            server.start()
            for _ in range(50):
                listed = await client.get("/api/todos", headers=headers)
                if listed.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert listed.status_code == 200
            assert [item["text"] for item in listed.json()["items"]] == ["kept"]
            assert (await client.get("/readyz")).status_code == 200
