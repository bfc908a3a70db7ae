"""Prometheus metrics (app.observability.metrics), scraped and parsed after real requests."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from auth.testing import DpopKey, TestIssuer
from tests.app.conftest import app_settings, auth_settings, running_app


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return parsed[(name, frozenset(labels.items()))]


async def test_metrics_after_real_requests(tmp_path: Any, issuer: TestIssuer) -> None:
    settings = app_settings(f"sqlite:///{tmp_path / 'todo.db'}", metrics="admin")
    auth = auth_settings(issuer, dpop_nonce=True, dpop_nonce_secret="s" * 32)
    async with running_app(settings, auth) as client:
        alice = {"Authorization": f"Bearer {issuer.token('alice')}"}
        for _ in range(3):
            assert (await client.get("/api/todos", headers=alice)).status_code == 200
        created = await client.post("/api/todos", json={"text": "x"}, headers=alice)
        assert created.status_code == 201
        wrong = {"Authorization": f"Bearer {issuer.token('bob', aud='another-api')}"}
        assert (await client.get("/api/todos", headers=wrong)).status_code == 401
        key = DpopKey()
        bound = issuer.token("carol", dpop_key=key)
        asked = await client.get(
            "/api/me",
            headers={
                "Authorization": f"DPoP {bound}",
                "DPoP": key.proof("GET", "http://api.test/api/me", access_token=bound),
            },
        )
        assert asked.json()["error"] == "use_dpop_nonce"

        assert (await client.get("/metrics")).status_code == 401  # admin only
        root = issuer.token("root", realm_access={"roles": ["todo-admin"]})
        admin = {"Authorization": f"Bearer {root}"}
        scraped = await client.get("/metrics", headers=admin)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    parsed = samples(scraped.text)

    requests = "http_server_request_duration_seconds_count"
    assert value(parsed, requests, method="GET", route="/api/todos", status="200") == 3
    assert value(parsed, requests, method="POST", route="/api/todos", status="201") == 1
    assert value(parsed, requests, method="GET", route="/api/todos", status="401") == 1
    bucket = "http_server_request_duration_seconds_bucket"
    assert value(parsed, bucket, method="GET", route="/api/todos", status="200", le="+Inf") == 3

    auth_total = "auth_requests_total"
    assert value(parsed, auth_total, scheme="Bearer", outcome="ok", check="") >= 4
    assert value(parsed, auth_total, scheme="Bearer", outcome="invalid_token", check="aud") == 1
    assert (
        value(parsed, auth_total, scheme="DPoP", outcome="use_dpop_nonce", check="dpop.nonce") == 1
    )

    assert value(parsed, "auth_token_cache_lookups_total", result="hit") >= 3
    assert value(parsed, "auth_token_cache_entries") >= 2
    assert value(parsed, "auth_jwks_fetches_total", issuer=issuer.issuer, outcome="ok") >= 1
    assert value(parsed, "auth_jwks_age_seconds", issuer=issuer.issuer) >= 0
    assert value(parsed, "auth_dpop_nonces_refused_total") == 1
    assert value(parsed, "auth_dpop_nonces_issued_total") >= 1
    assert value(parsed, "auth_dpop_replay_store_entries") == 0
    assert value(parsed, "auth_dpop_replay_refusals_total", reason="replay") == 0
    # feature: live begin
    assert value(parsed, "live_connections_open") == 0
    assert value(parsed, "live_events_sent_total") == 0
    assert value(parsed, "live_events_dropped_total") == 0
    # feature: live end
    assert value(parsed, "db_pool_connections_in_use") == 0
    assert value(parsed, "process_cpu_seconds_total") > 0


async def test_metrics_are_off_by_default(tmp_path: Any, issuer: TestIssuer) -> None:
    settings = app_settings(f"sqlite:///{tmp_path / 'todo.db'}")
    async with running_app(settings, auth_settings(issuer)) as client:
        assert (await client.get("/metrics")).status_code == 404


async def test_metrics_on_their_own_port(tmp_path: Any, issuer: TestIssuer) -> None:
    from tests.services import free_port

    port = free_port()
    settings = app_settings(
        f"sqlite:///{tmp_path / 'todo.db'}", metrics="port", metrics_listen=f"127.0.0.1:{port}"
    )
    async with running_app(settings, auth_settings(issuer)) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 404  # not on the API
        async with httpx.AsyncClient() as outside:
            scraped = await outside.get(f"http://127.0.0.1:{port}/metrics")
    parsed = samples(scraped.text)
    assert (
        value(
            parsed,
            "http_server_request_duration_seconds_count",
            method="GET",
            route="/healthz",
            status="200",
        )
        == 1
    )
