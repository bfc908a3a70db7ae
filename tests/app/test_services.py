"""The services object: the one typed way the application reaches its shared objects."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import FastAPI

import app
from app.main import create_app
from app.services import Services, services_of
from tests.app.conftest import Api

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
