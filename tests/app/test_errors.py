"""Unexpected errors (app.api.errors): a 500 problem every time, a traceback in the log
once per place, and never twice for one error (the server's own copy is dropped)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from app.api.errors import LOGGED, ServerErrorLines
from app.main import create_app
from auth.testing import TestIssuer
from tests.app.conftest import API, app_settings, auth_settings


class Bug(Exception):
    pass


async def test_a_bug_hit_again_and_again_logs_one_traceback_and_then_a_line_each(
    tmp_path: Path, issuer: TestIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(app_settings(f"sqlite:///{tmp_path / 'todo.db'}"), auth_settings(issuer))

    @app.get("/bug")
    async def bug() -> None:
        raise Bug("x" * 4000)

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    with caplog.at_level(logging.INFO, logger="app.errors"):
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url=API) as client,
        ):
            responses = [await client.get("/bug") for _ in range(20)]
    assert {response.status_code for response in responses} == {500}
    assert all(r.headers["content-type"] == "application/problem+json" for r in responses)
    records = [record for record in caplog.records if record.name == "app.errors"]
    assert len(records) == 20
    assert sum(1 for record in records if record.exc_info) == 1  # the first one only
    later = [record.getMessage() for record in records[1:]]
    assert all(len(line) < 300 and "Bug" in line for line in later)
    assert "20 times" in later[-1]


def _server_record(error: BaseException) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.error",
        logging.ERROR,
        __file__,
        1,
        "Exception in ASGI application\n",
        (),
        (type(error), error, error.__traceback__),
    )


def test_the_servers_copy_of_a_logged_error_is_dropped() -> None:
    logged = Bug("logged")
    setattr(logged, LOGGED, True)
    assert ServerErrorLines().filter(_server_record(logged)) is False
    assert ServerErrorLines().filter(_server_record(Bug("not logged"))) is True
