"""Real authorization servers besides Keycloak: node-oidc-provider and Ory Hydra.

Both are built or installed by `make test` (`make oidc-provider hydra`): the npm package
from tests/servers/oidc-provider/package-lock.json, the Hydra binary from the Go module
pinned in tests/servers/hydra/go.mod, cached under .cache/hydra/. Each listens on free
loopback ports and is stopped by its context manager. When one cannot start, the error
says why and which command fixes it: the tier fails, it is never skipped.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.services import ROOT, ServiceUnavailableForTests, _stop, free_port, wait_until

OIDC_PROVIDER_DIR = ROOT / "tests" / "servers" / "oidc-provider"
HYDRA_DIR = ROOT / "tests" / "servers" / "hydra"
HYDRA_BINARY = ROOT / ".cache" / "hydra" / "hydra"
#: The resource indicator (RFC 8707) both servers issue tokens for: the API's audience.
RESOURCE = "https://todo-api.test/"
SCOPES = ("todo:read", "todo:write")


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str


@dataclass
class AuthorizationServer:
    """An authorization server running on loopback: its issuer and its clients."""

    name: str
    issuer: str
    token_endpoint: str
    bearer_client: ClientCredentials
    dpop_client: ClientCredentials | None
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass(frozen=True)
class _Launch:
    """How to start a server on the ports just chosen for it."""

    command: list[str]
    ready_url: str
    ports: tuple[int, ...]


#: A port chosen free can still be taken by another listener before the server binds it.
_ATTEMPTS = 3


def _start(
    launch: Callable[[], _Launch], *, cwd: Path, log: Path, what: str
) -> tuple[subprocess.Popen[bytes], _Launch]:
    """Start the server ``launch`` describes (on fresh ports each attempt); retried only
    when it lost a port to another listener."""
    for attempt in range(1, _ATTEMPTS + 1):
        spec = launch()
        written = log.stat().st_size if log.exists() else 0
        with log.open("ab") as output:
            process = subprocess.Popen(
                spec.command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
            )

        def ready(url: str = spec.ready_url) -> bool:
            return httpx.get(url, timeout=1).status_code == 200

        try:
            wait_until(
                ready,
                timeout=60,
                what=what,
                log=log,
                process=process,
            )
        except ServiceUnavailableForTests:
            _stop(process)
            lost_a_port = "address already in use" in log.read_bytes()[written:].decode(
                errors="replace"
            )
            if lost_a_port and attempt < _ATTEMPTS:
                continue
            raise
        return process, spec
    raise AssertionError("unreachable")


@contextlib.contextmanager
def oidc_provider_server() -> Iterator[AuthorizationServer]:
    """node-oidc-provider (tests/servers/oidc-provider/server.js): JWT access tokens for
    ``RESOURCE`` through resource indicators, DPoP with nonces required."""
    node = shutil.which("node")
    if node is None:
        raise ServiceUnavailableForTests("node is not installed: apt-get install nodejs npm")
    if not (OIDC_PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise ServiceUnavailableForTests(
            "oidc-provider is not installed: run `make oidc-provider` "
            "(npm ci in tests/servers/oidc-provider)"
        )
    log = Path(tempfile.mkdtemp(prefix="todo-oidc-provider-")) / "oidc-provider.log"

    def launch() -> _Launch:
        port = free_port()
        command = [node, "server.js", "--port", str(port), "--resource", RESOURCE]
        command += ["--scopes", " ".join(SCOPES)]
        return _Launch(
            command, f"http://127.0.0.1:{port}/.well-known/openid-configuration", (port,)
        )

    process, started = _start(
        launch,
        cwd=OIDC_PROVIDER_DIR,
        log=log,
        what="node-oidc-provider (tests/servers/oidc-provider/server.js)",
    )
    issuer = f"http://127.0.0.1:{started.ports[0]}"
    try:
        yield AuthorizationServer(
            name="oidc-provider",
            issuer=issuer,
            token_endpoint=f"{issuer}/token",
            bearer_client=ClientCredentials("todo-service", "todo-service-secret"),
            dpop_client=ClientCredentials("todo-service-dpop", "todo-service-dpop-secret"),
            log=log,
        )
    finally:
        _stop(process)


def _hydra_config(public_port: int, admin_port: int, workdir: Path) -> Path:
    issuer = f"http://127.0.0.1:{public_port}"
    config = {
        "dsn": "memory",
        "serve": {
            "public": {"host": "127.0.0.1", "port": public_port},
            "admin": {"host": "127.0.0.1", "port": admin_port},
        },
        "urls": {"self": {"issuer": issuer}, "login": f"{issuer}/login"},
        # RFC 9068-style JWT access tokens; Hydra puts scopes in the "scp" list.
        "strategies": {"access_token": "jwt", "jwt": {"scope_claim": "list"}},
        "secrets": {"system": ["todo-oidc-hydra-test-system-secret"]},
        "log": {"level": "warn", "leak_sensitive_values": False},
    }
    path = workdir / "hydra.json"  # Hydra reads JSON as well as YAML
    path.write_text(json.dumps(config))
    return path


@contextlib.contextmanager
def hydra_server() -> Iterator[AuthorizationServer]:
    """Ory Hydra (in-memory store) with the JWT access-token strategy and one client."""
    if not HYDRA_BINARY.exists():
        raise ServiceUnavailableForTests(
            f"{HYDRA_BINARY.relative_to(ROOT)} is missing: run `make hydra` "
            "(builds github.com/ory/hydra/v2 with the Go toolchain: about 4 minutes cold)"
        )
    workdir = Path(tempfile.mkdtemp(prefix="todo-hydra-"))

    def launch() -> _Launch:
        public_port, admin_port = free_port(), free_port()
        config = _hydra_config(public_port, admin_port, workdir)
        return _Launch(
            [str(HYDRA_BINARY), "serve", "all", "--dev", "--config", str(config)],
            f"http://127.0.0.1:{admin_port}/health/ready",
            (public_port, admin_port),
        )

    process, started = _start(
        launch,
        cwd=workdir,
        log=workdir / "hydra.log",
        what="Ory Hydra (.cache/hydra/hydra serve all)",
    )
    public_port, admin_port = started.ports
    issuer = f"http://127.0.0.1:{public_port}"
    client = ClientCredentials("todo-service", "todo-service-secret")
    try:
        # Hydra generates its signing keys (RSA 4096) on first use, which takes seconds on
        # a busy machine: done here, so the API's first key fetch is not timed out by it.
        httpx.get(f"{issuer}/.well-known/jwks.json", timeout=120).raise_for_status()
        response = httpx.post(
            f"http://127.0.0.1:{admin_port}/admin/clients",
            json={
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "grant_types": ["client_credentials"],
                "response_types": [],
                "scope": " ".join(SCOPES),
                "audience": [RESOURCE],
                "token_endpoint_auth_method": "client_secret_post",
                "access_token_strategy": "jwt",
            },
        )
        if response.status_code != 201:
            raise ServiceUnavailableForTests(
                f"Hydra refused to create the test client: {response.status_code} {response.text}"
            )
        yield AuthorizationServer(
            name="hydra",
            issuer=issuer,
            token_endpoint=f"{issuer}/oauth2/token",
            bearer_client=client,
            dpop_client=None,
            log=workdir / "hydra.log",
        )
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
