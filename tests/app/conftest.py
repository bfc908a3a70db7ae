"""The API in-process (httpx over ASGI, lifespan running) with the real verifier, a test
issuer over real HTTP, and a fresh database: SQLite, and PostgreSQL under ``pg``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.settings import AppSettings, TodoAuthSettings
from auth._settings import AuthSettings
from auth.testing import DpopKey, TestIssuer
from tests.services import PostgresServer, issuer_server

API = "http://api.test"


@pytest.fixture(scope="session")
def issuer() -> Iterator[TestIssuer]:
    with issuer_server() as served:
        yield served


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'todo.db'}"
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.create_database(f"todo_{uuid.uuid4().hex[:12]}")


@dataclass
class Caller:
    """A user of the API with a Bearer token from the test issuer."""

    client: httpx.AsyncClient
    issuer: TestIssuer
    subject: str
    roles: list[str] = field(default_factory=lambda: ["todo-user"])

    def token(self, **claims: Any) -> str:
        return self.issuer.token(self.subject, realm_access={"roles": self.roles}, **claims)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def create(self, text: str = "buy milk") -> dict[str, Any]:
        response = await self.post("/api/todos", json={"text": text})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@dataclass
class Api:
    client: httpx.AsyncClient
    issuer: TestIssuer
    settings: AppSettings

    def caller(self, subject: str | None = None, *, roles: list[str] | None = None) -> Caller:
        return Caller(
            self.client,
            self.issuer,
            subject or f"user-{uuid.uuid4().hex[:8]}",
            roles if roles is not None else ["todo-user"],
        )

    def dpop_key(self) -> DpopKey:
        return DpopKey()


def app_settings(database_url: str, **overrides: Any) -> AppSettings:
    return AppSettings(database_url=database_url, **overrides)


def auth_settings(issuer: TestIssuer, **overrides: Any) -> AuthSettings:
    return TodoAuthSettings(issuer_uri=issuer.issuer, audience=issuer.audience, **overrides)


@contextlib.asynccontextmanager
async def running_app(
    settings: AppSettings, auth: AuthSettings
) -> AsyncIterator[httpx.AsyncClient]:
    """The application with its lifespan running, and a client talking to it over ASGI."""
    application = create_app(settings, auth)
    transport = httpx.ASGITransport(application)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=transport, base_url=API) as client,
    ):
        yield client


@pytest.fixture
async def api(database_url: str, issuer: TestIssuer) -> AsyncIterator[Api]:
    settings = app_settings(database_url)
    async with running_app(settings, auth_settings(issuer)) as client:
        yield Api(client, issuer, settings)
