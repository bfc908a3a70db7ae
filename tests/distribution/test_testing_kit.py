"""The testing kit as a user gets it from the wheel: the README's example against the
test issuer (tokens from its ``/token``), and the pytest plugin the wheel registers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from auth.testing import TestIssuer
from tests.distribution.conftest import UV, Virtualenv, run
from tests.distribution.test_example import _bearer, example_source, serve_example

pytestmark = pytest.mark.wheel


def test_the_example_against_the_test_issuer(
    fastapi_venv: Virtualenv, oidc_issuer: TestIssuer, tmp_path: Path
) -> None:
    # The README's own way to try it: tokens from the test issuer's /token, which mints
    # the scopes and roles the example's routes ask for.
    env = {"OIDC_ISSUER_URI": oidc_issuer.issuer, "OIDC_AUDIENCE": oidc_issuer.audience}

    def minted(**parameters: str) -> dict[str, str]:
        response = httpx.get(f"{oidc_issuer.issuer}/token", params=parameters)
        return _bearer(response.json()["access_token"])

    with serve_example(fastapi_venv, tmp_path, env) as base:
        reader = minted(sub="alice", scope="todo:read")
        items = httpx.get(f"{base}/items", headers=reader)
        assert items.status_code == 200, items.text
        assert items.json() == ["an item of alice"]
        assert httpx.post(f"{base}/items", headers=reader).status_code == 403
        writer = minted(sub="alice", scope="todo:write", roles="admin")
        assert httpx.post(f"{base}/items", headers=writer).json() == {"owner": "alice"}
        assert httpx.get(f"{base}/admin", headers=writer).json() == {"admin": True}
        assert httpx.get(f"{base}/admin", headers=reader).status_code == 403
        assert httpx.get(f"{base}/me", headers=reader).json()["scopes"] == ["todo:read"]


USER_TESTS = """
import pytest
from fastapi.testclient import TestClient

import items


@pytest.fixture(scope="session")
def oidc_audience():
    return "todo-api"


def test_items_with_real_tokens(oidc_issuer, oidc_headers, monkeypatch):
    monkeypatch.setenv("OIDC_ISSUER_URI", oidc_issuer.issuer)
    monkeypatch.setenv("OIDC_AUDIENCE", oidc_issuer.audience)
    with TestClient(items.app) as client:
        assert client.get("/items", headers=oidc_headers(scopes=["todo:read"])).status_code == 200
        assert client.get("/items", headers=oidc_headers()).status_code == 403


def test_a_dpop_bound_token(oidc_token, oidc_dpop_key, oidc_dpop_proof, monkeypatch, oidc_issuer):
    monkeypatch.setenv("OIDC_ISSUER_URI", oidc_issuer.issuer)
    monkeypatch.setenv("OIDC_AUDIENCE", oidc_issuer.audience)
    token = oidc_token(scopes=["todo:read"], dpop_key=oidc_dpop_key)
    proof = oidc_dpop_proof("GET", "http://testserver/items", access_token=token)
    with TestClient(items.app) as client:
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
        assert client.get("/items", headers=headers).status_code == 200


def test_as_a_principal_without_settings(oidc_client_as, monkeypatch):
    for name in [name for name in __import__("os").environ if name.startswith("OIDC_")]:
        monkeypatch.delenv(name)
    with oidc_client_as(items.app, items.auth, roles=["admin"]) as client:
        assert client.get("/admin").json() == {"admin": True}
        assert client.get("/items").status_code == 403
"""


def test_the_pytest_plugin_comes_with_the_wheel(testing_venv: Virtualenv, tmp_path: Path) -> None:
    # A user's project: the example and its tests, no conftest.py: the fixtures come
    # from the plugin the wheel registers (entry point pytest11).
    (tmp_path / "items.py").write_text(example_source())
    (tmp_path / "test_items.py").write_text(USER_TESTS)
    output = testing_venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert "3 passed" in output, output


def test_the_pytest_plugin_loads_without_the_extras(core_venv: Virtualenv, tmp_path: Path) -> None:
    # Registered in every project that installs the wheel: with the core alone it loads
    # (its fixtures import FastAPI or uvicorn only when used).
    run(UV, "pip", "install", "--python", core_venv.python, "pytest", cwd=tmp_path)
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    output = core_venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert "1 passed" in output, output
    plugins = core_venv.run("-m", "pytest", "--trace-config", "--co", "-q", cwd=tmp_path)
    # The module the entry point names, registered from the installed package.
    registered = [line for line in plugins.splitlines() if "pytest_plugin" in line]
    assert registered, plugins
    assert all(str(core_venv.path) in line for line in registered), registered
