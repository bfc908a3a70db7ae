"""Every request observed once (app.observability.requests): id, access line, no token."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from app.observability.logs import LogFormat, build_formatter
from app.observability.requests import RequestObserver, SubjectInLogs, _AccessFields
from auth import AuthError, Principal
from auth._errors import Check
from auth.testing import TestIssuer
from tests.app.conftest import app_settings, auth_settings, running_app


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        {**record.__dict__, "level": record.levelname}
        for record in caplog.records
        if record.name == "app.access"
    ]


@pytest.fixture
async def client(
    tmp_path: Any, issuer: TestIssuer, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[httpx.AsyncClient]:
    caplog.set_level(logging.INFO, logger="app.access")
    settings = app_settings(f"sqlite:///{tmp_path / 'todo.db'}", log_subject_key="k")
    auth = auth_settings(issuer, trusted_proxies="127.0.0.0/8")
    async with running_app(settings, auth) as http:
        yield http


async def test_a_refused_token_is_one_line_with_its_check_and_no_token(
    client: httpx.AsyncClient, issuer: TestIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.token("alice", aud="another-api")
    response = await client.get(
        "/api/todos?limit=5&access_token=x", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (400, 401)
    [line] = access_lines(caplog)
    assert line["route"] == "/api/todos"
    assert line["path"] == "/api/todos?limit=[redacted]&access_token=[redacted]"
    assert line["status"] == response.status_code
    assert line["auth_outcome"] == response.json()["error"]
    # A token in the header and another in the query: RFC 6750 §2 allows one method.
    assert line["auth_check"] == Check.DUPLICATE_CREDENTIALS
    assert token not in repr(caplog.records)


async def test_a_wrong_audience_names_the_aud_check(
    client: httpx.AsyncClient, issuer: TestIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.token("alice", aud="another-api")
    await client.get("/api/todos", headers={"Authorization": f"Bearer {token}"})
    [line] = access_lines(caplog)
    assert (line["auth_scheme"], line["auth_outcome"], line["auth_check"]) == (
        "Bearer",
        "invalid_token",
        "aud",
    )
    assert line["status"] == 401
    assert "subject" not in line  # nobody was authenticated


async def test_an_accepted_token_logs_the_hashed_subject(
    client: httpx.AsyncClient, issuer: TestIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.token("alice")
    await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    [line] = access_lines(caplog)
    expected = hmac.new(b"k", f"{issuer.issuer}\x00alice".encode(), hashlib.sha256)
    assert line["subject"] == expected.hexdigest()[:16]
    assert (line["auth_outcome"], line["status"], line["method"]) == ("ok", 200, "GET")
    assert "auth_check" not in line
    assert line["duration_ms"] > 0


async def test_the_request_id_is_generated_and_echoed(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert len(first.headers["x-request-id"]) == 32


async def test_a_request_id_is_taken_from_a_trusted_proxy_only(
    tmp_path: Any, issuer: TestIssuer
) -> None:
    settings = app_settings(f"sqlite:///{tmp_path / 'todo.db'}")
    sent = {"X-Request-ID": "edge-1234"}
    # httpx's ASGI transport presents the client as 127.0.0.1.
    async with running_app(settings, auth_settings(issuer)) as untrusting:
        assert (await untrusting.get("/healthz", headers=sent)).headers["x-request-id"] != (
            "edge-1234"
        )
    trusted = auth_settings(issuer, trusted_proxies="127.0.0.1/32")
    async with running_app(settings, trusted) as trusting:
        echoed = await trusting.get("/healthz", headers=sent)
        assert echoed.headers["x-request-id"] == "edge-1234"
        bad = await trusting.get("/healthz", headers={"X-Request-ID": 'a"b c'})
        assert bad.headers["x-request-id"] != 'a"b c'


async def test_an_unmatched_path_has_no_route(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await client.get("/nowhere/eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
    [line] = access_lines(caplog)
    assert (line["route"], line["status"]) == (None, 404)


async def _hashed_subject(settings: Any, issuer: TestIssuer, caplog: Any) -> str:
    caplog.clear()
    token = issuer.token("bob@example.test")
    async with running_app(settings, auth_settings(issuer)) as http:
        response = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
    [line] = access_lines(caplog)
    subject: str = line["subject"]
    return subject


async def test_without_log_subject_key_subjects_are_hashed_with_a_key_of_the_process(
    tmp_path: Any, issuer: TestIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    # An unkeyed HMAC of a guessable subject is recovered by hashing candidates: the
    # default is a random key per process (docs/operations.md), never no key.
    caplog.set_level(logging.INFO)
    settings = app_settings(f"sqlite:///{tmp_path / 'todo.db'}", app_env="production")
    first = await _hashed_subject(settings, issuer, caplog)
    second = await _hashed_subject(settings, issuer, caplog)
    message = f"{issuer.issuer}\x00bob@example.test".encode()
    unkeyed = hmac.new(b"", message, hashlib.sha256).hexdigest()[:16]
    assert unkeyed not in (first, second)
    assert first != second  # each process (here, each app) has its own key
    keyed = app_settings(f"sqlite:///{tmp_path / 'todo.db'}", log_subject_key="k")
    assert await _hashed_subject(keyed, issuer, caplog) == await _hashed_subject(
        keyed, issuer, caplog
    )


def test_production_is_told_when_log_subject_key_is_unset(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from app.main import _subject_key

    with caplog.at_level(logging.WARNING, logger="app.settings"):
        _subject_key(app_settings("sqlite://", app_env="production"))
        _subject_key(app_settings("sqlite://", app_env="production", log_subject="omitted"))
        _subject_key(app_settings("sqlite://"))
    assert ["LOG_SUBJECT_KEY is not set" in r.getMessage() for r in caplog.records] == [True]


class _Route:
    path = "/api/todos/{todo_id}"


async def _unused_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("only the observer's line is rendered")


def _scope(path: bytes, query: bytes = b"", kind: str = "http", **state: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "method": "GET",
        "path": path.decode("latin-1"),
        "raw_path": path,
        "query_string": query,
        "headers": [],
        "route": _Route() if path.startswith(b"/api/todos/") else None,
        "state": state,
    }


@pytest.mark.parametrize("log_format", ["json", "text"])
@pytest.mark.parametrize("subject", ["hashed", "plain", "omitted"])
def test_an_access_line_from_its_kind_is_the_line_of_its_fields(
    log_format: LogFormat, subject: SubjectInLogs
) -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
    principal = Principal(subject=f"a b'{jwt}", issuer="https://issuer.test", client_id="spa")
    refused = AuthError("no", check=Check.SIGNATURE, scheme="Bearer")
    scopes = [
        _scope(b"/api/todos/1", principal=principal),
        _scope(b"/api/todos/2", principal=principal),  # the same kind, another path
        _scope(b"/api/todos/3", b"access_token=secret&x=1", principal=principal),
        _scope(f"/a b/'{jwt}".encode(), auth_error=refused),
        _scope(b"/live", kind="websocket"),
        _scope(b"/\x00"),
    ]
    formatter = build_formatter(log_format)
    observer = RequestObserver(_unused_app, subject=subject, subject_key=b"k")
    for scope in scopes:
        for status, request_id in ((200, "r-1"), (503, None), (200, None)):
            level = logging.WARNING if status >= 500 else logging.INFO
            fields = _AccessFields(observer, scope, status, 0.0123456)
            bound: tuple[str | None, dict[str, Any]] = (request_id, {})
            for _ in range(2):  # the first line of a kind makes its template
                direct = formatter.kind_line(
                    "app.access", level, "request", fields, microseconds=1_765_000_000, bound=bound
                )
                expected = formatter.line(
                    "app.access",
                    level,
                    "request",
                    fields(),
                    microseconds=1_765_000_000,
                    bound=bound,
                )
                assert direct == expected
                assert direct is not None or b"\x00" in scope["raw_path"]
                assert jwt not in (direct or "")
                assert "secret" not in (direct or "")
    # Lines with bound variables are the chain's to order: no template.
    fields = _AccessFields(observer, scopes[0], 200, 0.1)
    assert (
        formatter.kind_line(
            "app.access", logging.INFO, "request", fields, microseconds=0, bound=(None, {"t": "1"})
        )
        is None
    )
