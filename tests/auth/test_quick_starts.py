"""auth/README.md's quick starts, copied out of the README and run as written: FastAPI
and Starlette and Litestar under uvicorn, Flask with its test client and under gunicorn,
each against the test issuer served on loopback, tokens from its ``/token``."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from auth.testing import TestIssuer, serve
from tests.services import ROOT, _stop, free_port, wait_until

README = ROOT / "auth" / "README.md"


def example(name: str) -> str:
    """The README's example ``name``, importing this repository's folder: the wheel's
    ``oidc_resource_server`` is the ``auth`` package here (the wheel tier runs the
    FastAPI example from the wheel itself)."""
    pattern = rf"<!-- example: {re.escape(name)}.*?-->\n```python\n(.*?)```"
    match = re.search(pattern, README.read_text(), re.DOTALL)
    assert match, f"auth/README.md lost its {name} example"
    source = match.group(1)
    assert "oidc_resource_server" in source  # as a user of the wheel writes it
    return re.sub(r"\boidc_resource_server\b", "auth", source)


@pytest.fixture
def environment(oidc_issuer: TestIssuer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The example's environment: the served test issuer, nothing else of OIDC_*."""
    for name in [name for name in os.environ if name.startswith("OIDC_")]:
        monkeypatch.delenv(name)
    env = {"OIDC_ISSUER_URI": oidc_issuer.issuer, "OIDC_AUDIENCE": oidc_issuer.audience}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def load(name: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The README's example ``name`` as a module of its own, imported from a file (and
    in ``sys.modules`` for the test, where Litestar reads a handler's annotations)."""
    path = directory / name
    path.write_text(example(name))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, path.stem, module)
    spec.loader.exec_module(module)
    return module


def token(issuer: TestIssuer, **parameters: str) -> dict[str, str]:
    """A token from the issuer's /token, as the README's curl line gets one."""
    response = httpx.get(f"{issuer.issuer}/token", params=parameters)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def assert_items_protected(base: str, issuer: TestIssuer) -> None:
    reader = token(issuer, sub="ann", scope="todo:read")
    items = httpx.get(f"{base}/items", headers=reader)
    assert items.status_code == 200, items.text
    assert items.json() == ["an item of ann"]
    unscoped = httpx.get(f"{base}/items", headers=token(issuer, sub="ann"))
    assert unscoped.status_code == 403
    assert unscoped.json()["error"] == "insufficient_scope"
    assert 'scope="todo:read"' in unscoped.headers["www-authenticate"]
    anonymous = httpx.get(f"{base}/items")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.usefixtures("environment")
def test_the_fastapi_quick_start(
    oidc_issuer: TestIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load("items.py", tmp_path, monkeypatch)
    with serve(module.app) as base:
        assert_items_protected(base, oidc_issuer)
        writer = token(oidc_issuer, scope="todo:write", roles="admin")
        assert httpx.post(f"{base}/items", headers=writer).status_code == 201
        assert httpx.get(f"{base}/admin", headers=writer).json() == {"admin": True}
        assert httpx.get(f"{base}/hello").json() == "hello stranger"


@pytest.mark.usefixtures("environment")
def test_the_starlette_quick_start(
    oidc_issuer: TestIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load("starlette_items.py", tmp_path, monkeypatch)
    with serve(module.app) as base:
        assert_items_protected(base, oidc_issuer)
        assert httpx.get(f"{base}/healthz").json() == {"ok": True}


@pytest.mark.usefixtures("environment")
def test_the_litestar_quick_start(
    oidc_issuer: TestIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load("litestar_items.py", tmp_path, monkeypatch)
    with serve(module.app) as base:
        assert_items_protected(base, oidc_issuer)


@pytest.mark.usefixtures("environment")
def test_the_flask_quick_start(
    oidc_issuer: TestIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load("flask_items.py", tmp_path, monkeypatch)
    try:
        client = module.app.test_client()
        reader = token(oidc_issuer, sub="bo", scope="todo:read")
        assert client.get("/items", headers=reader).get_json() == ["an item of bo"]
        refused = client.get("/items", headers=token(oidc_issuer, sub="bo"))
        assert refused.status_code == 403
        assert refused.headers.getlist("WWW-Authenticate")[0].startswith(
            'Bearer error="insufficient_scope"'
        )
        assert refused.content_type == "application/problem+json"
        anonymous = client.get("/items")
        assert anonymous.status_code == 401
        assert len(anonymous.headers.getlist("WWW-Authenticate")) == 2
    finally:
        module.verifier.close()


@pytest.fixture
def gunicorn(environment: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The Flask quick start under gunicorn: two worker processes forked from a master
    that imported the application first (``--preload``)."""
    (tmp_path / "flask_items.py").write_text(example("flask_items.py"))
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "--preload", "--workers", "2"),
                *("--bind", f"127.0.0.1:{port}", "flask_items:app"),
            ],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT), **environment},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{base}/items").status_code == 401,
            timeout=30,
            what="the Flask quick start under gunicorn",
            log=log,
            process=process,
        )
        yield base
    finally:
        _stop(process)


@pytest.mark.integration
def test_the_flask_quick_start_under_gunicorn(gunicorn: str, oidc_issuer: TestIssuer) -> None:
    # Several requests, so both workers answer: each started its own loop after the fork.
    for _ in range(6):
        assert_items_protected(gunicorn, oidc_issuer)
