"""Section 2: HTTP throughput of one worker under wrk, FastAPI + auth vs Hono + oidc-spa.

The servers run side by side on the measured core; wrk (one thread) runs on the other.
Rounds interleave the servers for every cell, so background noise hits all of them.
``python -m app`` is measured as shipped (its default settings: the access line on, in
its default format); the same server with ``API_ACCESS_LOG=false`` is an extra row, and
the stack around the route is measured against a bare FastAPI application serving the
same ``/api/me`` (``bare_fastapi.py``). Bearer runs repeat one token (what a SPA
does); DPoP runs send a fresh proof on every request, made in Python before the run and
read by ``wrk/load.lua``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from auth.testing import DpopKey, TestIssuer
from bench import profiling
from bench.cores import LOAD_CORE, on_core
from bench.fixtures import TOKEN_LIFETIME
from bench.servers import Server, api_env, bare_fastapi, hono_peer, python_api
from bench.stats import ROOT, summary

LUA = ROOT / "bench" / "wrk" / "load.lua"
SUBJECT = "bench-user"
OURS = "fastapi+auth"  # python -m app as shipped, verify mode
OURS_QUIET = "fastapi+auth, access line off"
STATIC = "fastapi static"  # as shipped, OIDC_MODE=static: the route without verification
STATIC_QUIET = "fastapi static, access line off"
BARE = "bare fastapi"  # one route, one dependency: bench/bare_fastapi.py
PEER, PEER_OFF = "hono+oidc-spa", "hono no-auth"
NO_AUTH = (STATIC, STATIC_QUIET, BARE, PEER_OFF)
#: (path, credentials) cells and the servers measured on each; the servers without
#: authentication are measured on the ES256 Bearer ones (they ignore the token).
CELLS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/api/me", "RS256 Bearer", (OURS, PEER)),
    ("/api/me", "ES256 Bearer", (OURS, PEER, OURS_QUIET, STATIC, STATIC_QUIET, BARE, PEER_OFF)),
    ("/api/me", "ES256 DPoP", (OURS, PEER)),
    ("/api/todos", "ES256 Bearer", (OURS, PEER, STATIC, PEER_OFF)),
    ("/api/todos", "ES256 DPoP", (OURS, PEER)),
)
#: Cells profiled with py-spy after the timed rounds (one extra run each, not counted).
PROFILED = (
    (OURS, "/api/me", "ES256 Bearer", 32),
    (OURS, "/api/me", "ES256 DPoP", 32),
    (STATIC_QUIET, "/api/me", "ES256 Bearer", 32),
)


@dataclass(frozen=True)
class Settings:
    runs: int = 5
    seconds: int = 4
    warmup_seconds: int = 2
    connections: tuple[int, ...] = (32,)
    profile: bool = True


@dataclass
class Credentials:
    bearer: dict[str, str]
    dpop_token: str
    dpop_key: DpopKey
    expected_rate: dict[tuple[str, str, int], float] = field(default_factory=dict)


def wrk(
    url: str,
    *,
    connections: int,
    seconds: int,
    headers: dict[str, str],
    proofs: Path | None = None,
    script: Path = LUA,
    script_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One wrk run on the load core; requests/s, p50/p99 in ms, failures."""
    env = {**os.environ, **(script_env or {})}
    if proofs is not None:
        env["BENCH_DPOP_PROOFS"] = str(proofs)
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    result = subprocess.run(
        on_core(LOAD_CORE, [*command, url]), capture_output=True, text=True, env=env, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "rps": report["requests"] / (report["duration_us"] / 1e6),
        "p50_ms": report["p50_us"] / 1000,
        "p99_ms": report["p99_us"] / 1000,
        "failed": report["non2xx"] + report["socket_errors"],
        "requests": report["requests"],
    }


def write_proofs(creds: Credentials, url: str, count: int) -> Path:
    path = Path(tempfile.mkstemp(prefix="bench-proofs-", suffix=".txt")[1])
    proofs = (creds.dpop_key.proof("GET", url, access_token=creds.dpop_token) for _ in range(count))
    path.write_text("\n".join(proofs) + "\n")
    return path


def measure(
    server: Server, path: str, scheme: str, connections: int, *, seconds: int, creds: Credentials
) -> dict[str, Any]:
    url = f"{server.base_url}{path}"
    if scheme.endswith("DPoP"):
        key = (server.name, path, connections)
        rate = creds.expected_rate.get(key, 5000.0)
        proofs = write_proofs(creds, url, int(rate * seconds * 1.6) + 2000)
        headers = {"Authorization": f"DPoP {creds.dpop_token}"}
        try:
            figures = wrk(
                url, connections=connections, seconds=seconds, headers=headers, proofs=proofs
            )
        finally:
            proofs.unlink()
        creds.expected_rate[key] = max(rate if figures["failed"] else 0, figures["rps"])
        return figures
    alg = scheme.split(maxsplit=1)[0]
    headers = {"Authorization": f"Bearer {creds.bearer[alg]}"}
    return wrk(url, connections=connections, seconds=seconds, headers=headers)


def seed(server: Server, token: str) -> None:
    """Twenty todos for the benchmark user, written through the API itself."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as client:
        for n in range(20):
            response = client.post("/api/todos", json={"text": f"todo number {n} of the user"})
            response.raise_for_status()
        assert len(client.get("/api/todos").json()["items"]) == 20


def plan(settings: Settings) -> list[tuple[str, str, str, int]]:
    """(server, path, scheme, connections) of one round."""
    return [
        (server, path, scheme, connections)
        for connections in settings.connections
        for path, scheme, servers in CELLS
        for server in servers
    ]


@contextlib.contextmanager
def running_servers(issuer: TestIssuer) -> Any:
    audience = issuer.audience
    quiet = {"API_ACCESS_LOG": "false"}
    with (
        python_api(OURS, api_env(issuer.issuer, audience)) as ours,
        python_api(OURS_QUIET, api_env(issuer.issuer, audience, **quiet)) as ours_quiet,
        python_api(STATIC, api_env(None, audience)) as static,
        python_api(STATIC_QUIET, api_env(None, audience, **quiet)) as static_quiet,
        bare_fastapi(BARE) as bare,
        hono_peer(PEER, issuer_uri=issuer.issuer, audience=audience) as peer,
        hono_peer(PEER_OFF, issuer_uri=None, audience=audience) as peer_off,
    ):
        yield {s.name: s for s in (ours, ours_quiet, static, static_quiet, bare, peer, peer_off)}


def credentials(issuer: TestIssuer) -> Credentials:
    exp = int(time.time()) + TOKEN_LIFETIME
    key = DpopKey()
    return Credentials(
        bearer={alg: issuer.token(SUBJECT, alg=alg, exp=exp) for alg in ("RS256", "ES256")},
        dpop_token=issuer.token(SUBJECT, alg="ES256", dpop_key=key, exp=exp),
        dpop_key=key,
    )


def run(
    issuer: TestIssuer,
    settings: Settings,
    log: Any = print,
    servers: dict[str, Server] | None = None,
) -> dict[str, Any]:
    creds = credentials(issuer)
    with contextlib.ExitStack() as stack:
        if servers is None:
            servers = stack.enter_context(running_servers(issuer))
        for name in (OURS, STATIC):
            seed(servers[name], creds.bearer["ES256"])
        cells = plan(settings)
        for server, path, scheme, connections in cells:  # warm-up round, discarded
            measure(
                servers[server],
                path,
                scheme,
                connections,
                seconds=settings.warmup_seconds,
                creds=creds,
            )
        results: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {c: [] for c in cells}
        for round_number in range(settings.runs):
            for cell in cells:
                server, path, scheme, connections = cell
                figures = measure(
                    servers[server],
                    path,
                    scheme,
                    connections,
                    seconds=settings.seconds,
                    creds=creds,
                )
                results[cell].append(figures)
                log(
                    f"  http round {round_number + 1}/{settings.runs} {server:15} {path:10} "
                    f"{scheme:12} c={connections:<3} {figures['rps']:8,.0f} req/s "
                    f"p50 {figures['p50_ms']:6.2f} ms p99 {figures['p99_ms']:7.2f} ms"
                    + (f" FAILED {figures['failed']}" if figures["failed"] else "")
                )
        profiles = {}
        if settings.profile and profiling.available():
            for server, path, scheme, connections in PROFILED:
                target = servers[server]
                with profiling.recording(target.pid, settings.seconds + 1) as profile:
                    measure(
                        target, path, scheme, connections, seconds=settings.seconds, creds=creds
                    )
                profiles[f"{server} {path} {scheme} c={connections}"] = profile
    cells_out = []
    for (server, path, scheme, connections), runs in results.items():
        cells_out.append(
            {
                "server": server,
                "path": path,
                "scheme": "none" if server in NO_AUTH else scheme,
                "connections": connections,
                "rps": summary([r["rps"] for r in runs]),
                "p50_ms": summary([r["p50_ms"] for r in runs]),
                "p99_ms": summary([r["p99_ms"] for r in runs]),
                "failed": sum(r["failed"] for r in runs),
            }
        )
    return {"cells": cells_out, "profiles": profiles}
