"""The servers under load, each pinned to the measured core: the real API
(``python -m app`` through ``tests.services.api_process``) and the Hono peer."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.cores import MEASURED_CORE, on_core, pin
from bench.stats import ROOT
from tests.services import api_process, free_port, wait_until


@dataclass
class Server:
    name: str
    base_url: str
    pid: int


def api_env(issuer_uri: str | None, audience: str, **extra: str) -> dict[str, str]:
    """Environment of ``python -m app``: verify mode against ``issuer_uri``, or
    ``OIDC_MODE=static`` (the development mode that authenticates no one) when None."""
    env = (
        {"OIDC_MODE": "static"}
        if issuer_uri is None
        else {
            "OIDC_MODE": "verify",
            "OIDC_ISSUER_URI": issuer_uri,
            "OIDC_AUDIENCE": audience,
        }
    )
    return {**env, **extra}


@contextlib.contextmanager
def python_api(
    name: str, env: Mapping[str, str], *, root: Path = ROOT, python: str = sys.executable
) -> Iterator[Server]:
    """``python -m app`` (one uvicorn worker, uvloop + httptools) on the measured core,
    from the code of ``root`` (this checkout, or another one to compare with), run by
    ``python``."""
    with api_process(env, root=root, python=python) as api:
        pin(api.process.pid, MEASURED_CORE)
        yield Server(name, api.base_url, api.process.pid)


@contextlib.contextmanager
def pinned_server(
    name: str, command: list[str], env: Mapping[str, str], port: int, *, what: str
) -> Iterator[Server]:
    """``command`` on the measured core, serving ``/healthz`` on ``port``, until exit."""
    log = Path(tempfile.mkdtemp(prefix="bench-server-")) / f"{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            on_core(MEASURED_CORE, command), env=env, stdout=output, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: (
                process.poll() is None
                and httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
            ),
            timeout=30,
            what=what,
            log=log,
        )
        yield Server(name, base_url, process.pid)
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def bare_fastapi(name: str) -> Iterator[Server]:
    """``bench/bare_fastapi.py`` (FastAPI, one route, one dependency, plain uvicorn) on
    the measured core."""
    port = free_port()
    command = [sys.executable, "-m", "bench.bare_fastapi", str(port)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with pinned_server(name, command, env, port, what="the bare FastAPI app") as server:
        yield server


@contextlib.contextmanager
def hono_peer(name: str, *, issuer_uri: str | None, audience: str) -> Iterator[Server]:
    """``node peer/server.mjs`` on the measured core; ``issuer_uri=None`` turns auth off."""
    port = free_port()
    env = {**os.environ, "PORT": str(port), "AUDIENCE": audience, "NODE_ENV": "production"}
    env.update({"ISSUER_URI": issuer_uri} if issuer_uri else {"AUTH": "off"})
    command = ["node", str(ROOT / "bench/peer/server.mjs")]
    with pinned_server(name, command, env, port, what="the Hono peer") as server:
        yield server
