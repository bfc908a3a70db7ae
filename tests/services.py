"""Real servers for the tests: PostgreSQL, Redis, the API under uvicorn, a test issuer.

Every server listens on a free loopback port and is stopped by its context manager.
When a server cannot start, the error says why and what to install: a tier that cannot
run fails loudly, it is never skipped.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

from auth.testing import TestIssuer, served_issuer

if TYPE_CHECKING:
    import psycopg

ROOT = Path(__file__).resolve().parent.parent


def _postgres_bin_dir() -> Path | None:
    """Where PostgreSQL's server programs are: ``PG_BIN`` if set, else the directory of
    ``initdb`` on the PATH, else the newest ``/usr/lib/postgresql/<major>/bin`` (Debian
    keeps them off the PATH)."""
    if configured := os.environ.get("PG_BIN"):
        return Path(configured)
    if on_path := shutil.which("initdb"):
        return Path(on_path).parent
    installed = [
        directory
        for directory in Path("/usr/lib/postgresql").glob("*/bin")
        if (directory / "initdb").exists() and directory.parent.name.isdigit()
    ]
    return max(installed, key=lambda directory: int(directory.parent.name), default=None)


PG_BIN = _postgres_bin_dir()


class ServiceUnavailableForTests(RuntimeError):
    """A server a test tier needs could not be started. The message says how to fix it."""


def _first_ephemeral_port() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


#: Listeners' ports, below the ephemeral range and above the well-known fixed ones
#: (5173, 5432, 6379, 8080...).
_LISTENER_PORTS = range(20000, max(20000, min(_first_ephemeral_port(), 32768)))
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, for a server about to start.

    Not ``bind(0)``: the kernel hands those out of the ephemeral range, the range every
    outgoing connection of the suite also takes its local port from, so in the seconds a
    slow server (Hydra, Keycloak) takes to bind, a client socket can take its port
    ("address already in use"). Ports below that range are only ever taken by listeners,
    and each one is handed out once per test session.
    """
    candidates = [port for port in _LISTENER_PORTS if port not in _handed_out]
    random.shuffle(candidates)
    for candidate in candidates or [0]:  # an unusual ephemeral range: the kernel's choice
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = sock.getsockname()[1]
        _handed_out.add(port)
        return port
    raise ServiceUnavailableForTests(
        f"no free loopback port in {_LISTENER_PORTS.start}-{_LISTENER_PORTS.stop - 1}"
    )


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    log: Path | None = None,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll ``check`` until it is true; give up at ``timeout``, or at once if ``process``
    (the server being waited for) has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceUnavailableForTests(
                f"{what} exited with status {process.returncode}\n{_tail(log)}"
            )
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    raise ServiceUnavailableForTests(f"{what} did not become ready within {timeout}s\n{_tail(log)}")


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-3000:] if log and log.exists() else ""


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _require(executable: str, package: str) -> str:
    path = shutil.which(executable) or (
        str(PG_BIN / executable) if PG_BIN and (PG_BIN / executable).exists() else None
    )
    if path is None:
        raise ServiceUnavailableForTests(
            f"{executable} is not installed: run `make system-deps` (apt-get install {package})"
        )
    return path


def _stop(
    process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 10
) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- PostgreSQL ----------------------------------------------------------------------


@dataclass
class PostgresServer:
    port: int
    data_dir: Path
    log: Path
    _run_as: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [
                *self._run_as,
                _require("pg_ctl", "postgresql"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log),
                "-w",
                *args,
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self.pg_ctl(
            "-o",
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "stop")

    def create_database(self, name: str) -> str:
        with contextlib.closing(self._connect()) as connection:
            connection.autocommit = True
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres")


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster (Debian's postgresql package) on a free port."""
    initdb = _require("initdb", "postgresql")
    workdir = Path(tempfile.mkdtemp(prefix="todo-pg-"))
    data_dir, log = workdir / "data", workdir / "postgres.log"
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(workdir, "postgres")
    subprocess.run(
        [*run_as, initdb, "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    server = PostgresServer(free_port(), data_dir, log, run_as)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        raise ServiceUnavailableForTests(
            f"PostgreSQL did not start: {exc.stderr!r}\n{log.read_text()[-2000:]}"
        ) from exc
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop("immediate")
        shutil.rmtree(workdir, ignore_errors=True)


# -- Redis ---------------------------------------------------------------------------


@dataclass
class RedisServer:
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        executable = _require("redis-server", "redis-server")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    executable,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: port_is_open(self.port), timeout=10, what="redis-server", log=self.log)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, sig=signal.SIGKILL)
            self.process = None


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A Redis server (Debian's redis-server package) on a free port, no persistence."""
    server = RedisServer(free_port(), Path(tempfile.mkdtemp(prefix="todo-redis-")) / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- The API and the test issuer -----------------------------------------------------


@dataclass
class ApiProcess:
    base_url: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        _stop(self.process, sig=sig)


@contextlib.contextmanager
def api_process(
    env: Mapping[str, str],
    *,
    port: int | None = None,
    workdir: Path | None = None,
    args: Sequence[str] = (),
    root: Path = ROOT,
    python: str = sys.executable,
) -> Iterator[ApiProcess]:
    """``python -m app [args]`` in a subprocess: the real server, as users run it (the code
    of ``root``: the repository, or a copy of it, run by ``python``, which may be that
    copy's own interpreter)."""
    port = port or free_port()
    workdir = workdir or Path(tempfile.mkdtemp(prefix="todo-api-"))
    log = workdir / f"api-{port}.log"
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(root),
        "API_LISTEN": f"127.0.0.1:{port}",
        "DATABASE_URL": f"sqlite:///{workdir / 'todo.db'}",
        **env,
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [python, "-m", "app", *args],
            cwd=workdir,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    api = ApiProcess(f"http://127.0.0.1:{port}", port, log, process)
    try:
        wait_until(
            lambda: httpx.get(f"{api.base_url}/healthz", timeout=1).status_code == 200,
            timeout=30,
            what="the API (python -m app)",
            log=log,
            process=process,
        )
        yield api
    finally:
        api.stop()


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the main thread owns signals
        return None


@contextlib.contextmanager
def serve_in_thread(app: Callable[..., Any], port: int) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a loopback port, from a background thread."""
    server = _ThreadedServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, what="a threaded uvicorn server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def issuer_server(realm: str = "todo") -> Iterator[TestIssuer]:
    """A test issuer (discovery + JWKS) over real HTTP on a free loopback port."""
    with served_issuer(realm) as issuer:
        yield issuer


# -- Keycloak ------------------------------------------------------------------------

KEYCLOAK_SCRIPT = ROOT / "keycloak" / "local-keycloak.sh"


@dataclass
class KeycloakServer:
    """Keycloak from its distribution zip (keycloak/local-keycloak.sh), realms imported."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issuer(self, realm: str = "todo") -> str:
        return f"{self.url}/realms/{realm}"

    def token_endpoint(self, realm: str = "todo") -> str:
        return f"{self.issuer(realm)}/protocol/openid-connect/token"

    def _script(self, command: str, *, timeout: float) -> None:
        env = {**os.environ, "KC_PORT": str(self.port)}
        result = subprocess.run(
            [str(KEYCLOAK_SCRIPT), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceUnavailableForTests(
                f"keycloak/local-keycloak.sh {command} failed ({result.returncode}):\n"
                + result.stderr[-4000:]
            )

    def start(self) -> None:
        self._script("start", timeout=60)
        self._script("wait", timeout=300)

    def stop(self) -> None:
        self._script("stop", timeout=60)

    def admin_token(self) -> str:
        response = httpx.post(
            self.token_endpoint("master"),
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": "admin",
                "password": "admin",
            },
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def admin(self) -> httpx.Client:
        """An admin REST API client (``/admin/realms/...``) with the bootstrap admin."""
        return httpx.Client(
            base_url=f"{self.url}/admin/realms",
            headers={"Authorization": f"Bearer {self.admin_token()}"},
        )


@contextlib.contextmanager
def keycloak_server() -> Iterator[KeycloakServer]:
    """A real Keycloak on a free loopback port, stopped afterwards."""
    _require("java", "a Java 21+ JDK")
    _require("mvn", "maven")
    server = KeycloakServer(free_port())
    server._script("fetch", timeout=900)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(ServiceUnavailableForTests):
            server.stop()
