"""Numbers a client sends that a column cannot hold: the same 4xx on SQLite and
PostgreSQL, from the real server, with a log line per request and never a traceback."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from auth.testing import TestIssuer
from tests.integration.conftest import api_env
from tests.services import PostgresServer, api_process, wait_until

pytestmark = pytest.mark.integration

#: What one refused request may add to the log: its access line and little else (a
#: traceback pair was about 14 KB).
MAX_LOG_BYTES_PER_REQUEST = 600

OUT_OF_RANGE = ["2147483648", "4294967296", "9223372036854775807", "999999999999999999"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'todo.db'}"
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.create_database(f"todo_{uuid.uuid4().hex[:12]}")


def test_out_of_range_numbers_are_4xx_with_a_small_log_on_every_database(
    issuer: TestIssuer, tmp_path: Path, database_url: str
) -> None:
    env = api_env(issuer, DATABASE_URL=database_url, LOG_FORMAT="json")
    with api_process(env, workdir=tmp_path) as api:
        headers = {"Authorization": f"Bearer {issuer.token('bounds')}"}
        created = httpx.post(f"{api.base_url}/api/todos", json={"text": "t"}, headers=headers)
        assert created.status_code == 201
        todo = f"{api.base_url}/api/todos/{created.json()['id']}"
        wait_until(lambda: "/api/todos" in api.output(), timeout=10, what="the access line")
        before = len(api.output().encode())
        statuses = []
        for version in OUT_OF_RANGE:
            tag = {**headers, "If-Match": f'"{version}"'}
            statuses.append(httpx.patch(todo, json={"text": "u"}, headers=tag).status_code)
            statuses.append(httpx.delete(todo, headers=tag).status_code)
        for limit in ("2147483648", "9223372036854775808", "-1", "1e3"):
            listed = httpx.get(f"{api.base_url}/api/todos?limit={limit}", headers=headers)
            statuses.append(listed.status_code)
        requests = len(statuses)
        wait_until(
            lambda: api.output().count('"app.access"') >= requests + 1,
            timeout=10,
            what="every access line",
        )
        output = api.output()
    assert statuses == [412] * 2 * len(OUT_OF_RANGE) + [422] * 4
    assert "Traceback" not in output
    assert (len(output.encode()) - before) / requests < MAX_LOG_BYTES_PER_REQUEST
