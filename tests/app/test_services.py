"""The services object: the one typed way the application reaches its shared objects."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import app
from app.api.security import oidc
from app.main import create_app
from app.services import Services, services_of
from app.settings import TodoAuthSettings
from auth import ConfigurationError
from auth.fastapi.testing import override_principal
from auth.testing import served_issuer
from tests.app.conftest import Api, app_settings, auth_settings, running_app
from tests.auth.fakes import InitValuesOnly

APP_DIR = Path(app.__file__).parent


def _state_reads(source: str) -> list[int]:
    """Lines that touch an ``X.state`` attribute (``app.state.foo``, ``request.app.state``)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and node.attr == "state"
        and not (isinstance(node.value, ast.Name) and node.value.id in {"websocket", "self"})
    ]


def test_the_checker_sees_state_reads() -> None:
    assert _state_reads("x = request.app.state.sessionmaker\n") == [1]
    assert _state_reads("app.state.services = services\n") == [1]
    assert _state_reads("x = services.settings\n") == []


def test_app_state_is_touched_only_by_the_services_module_and_the_lifespan() -> None:
    touching = {
        str(path.relative_to(APP_DIR)): lines
        for path in sorted(APP_DIR.rglob("*.py"))
        if (lines := _state_reads(path.read_text()))
    }
    # services.py reads it (services_of); main.py's lifespan sets and clears it.
    assert set(touching) == {"services.py", "main.py"}


def test_services_are_unavailable_outside_the_lifespan() -> None:
    application: FastAPI = create_app()
    with pytest.raises(RuntimeError):
        services_of(application)


async def test_the_running_app_has_one_frozen_services_object(api: Api) -> None:
    application = api.client._transport.app  # type: ignore[attr-defined]
    services = services_of(application)
    assert isinstance(services, Services)
    with pytest.raises(AttributeError):
        services.settings = services.settings  # type: ignore[misc]
    assert services.settings is api.settings


async def test_two_applications_in_one_process_each_trust_their_own_issuer(
    tmp_path: Path,
) -> None:
    # Both built from the same module-level declaration (app.api.security.oidc), both
    # running at once: each has its own authenticator, and Services holds that one.
    with served_issuer("north") as north, served_issuer("south") as south:
        async with (
            running_app(
                app_settings(f"sqlite:///{tmp_path / 'north.db'}"), auth_settings(north)
            ) as north_client,
            running_app(
                app_settings(f"sqlite:///{tmp_path / 'south.db'}"), auth_settings(south)
            ) as south_client,
        ):
            pairs = [(north_client, north, south), (south_client, south, north)]
            answers = await asyncio.gather(
                *(
                    client.get("/api/me", headers=_bearer(token_of.token("ann")))
                    for client, own, other in pairs
                    for token_of in (own, other)
                )
            )
            assert [answer.status_code for answer in answers] == [200, 401, 200, 401]
            assert answers[0].json()["issuer"] == north.issuer
            assert answers[2].json()["issuer"] == south.issuer
            north_services = services_of(north_client._transport.app)  # type: ignore[attr-defined]
            south_services = services_of(south_client._transport.app)  # type: ignore[attr-defined]
            assert north_services.authenticator is not south_services.authenticator
            assert north_services.authenticator is oidc.authenticator_of(
                north_client._transport.app  # type: ignore[attr-defined]
            )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_application_runs_as_an_overridden_principal_with_no_identity_provider(
    tmp_path: Path,
) -> None:
    # No issuer configured at all: without the override the lifespan refuses to start.
    settings = app_settings(f"sqlite:///{tmp_path / 'todo.db'}")
    unconfigured = _Unconfigured()
    application = create_app(settings, unconfigured)
    with pytest.raises(ConfigurationError), TestClient(application):
        pass
    with (
        override_principal(application, oidc, subject="tess", roles=["todo-user"]),
        TestClient(application) as client,
    ):
        assert client.get("/api/me").json()["subject"] == "tess"
        assert client.post("/api/todos", json={"text": "tea"}).status_code == 201
        assert services_of(application).authenticator.status()["mode"] == "override"
        assert client.get("/readyz").status_code == 200


class _Unconfigured(InitValuesOnly, TodoAuthSettings):
    """The application's auth settings with nothing from the environment."""
