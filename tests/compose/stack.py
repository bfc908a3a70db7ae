"""docker-compose.yml brought up for real, as a user brings it up: `docker compose up
--build --wait`, then torn down with its volumes.

The engine and the compose plugin come from compose/engine.sh and
compose/compose-plugin.sh, the images from compose/images.sh (upstream images when the
engine has them or can pull them, the project's Debian-built stand-ins otherwise). The
stack runs under a project name of its own (never the file's ``todo-oidc``: a user's
stack is not touched) on published ports of its own (``published_ports``).

``python -m tests.compose.stack build`` does the slow part ahead of the tier (engine,
plugin, images, `docker compose build`, the container test image); `make test` runs it
first so that the tier's own time is the stack's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "compose"
CACHE = Path(os.environ.get("TODO_COMPOSE_CACHE") or ROOT / ".cache" / "compose")
#: The compose project of the tier: its containers, network, volume and built images.
PROJECT = "todo-oidc-tier"
#: The host's extra certificate authorities (Debian's place for them): the image builds
#: need them where a proxy re-signs TLS on the way to PyPI and npm.
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
#: The container test image, per Python minor version.
PYTHON_TESTS_IMAGE = "todo-oidc-local/python-tests:{version}"
#: The upstream image of each container test version, a variable of compose/images.sh.
PYTHON_TESTS_BASES = {"3.13": "PYTHON_313_IMAGE"}


class ComposeUnavailable(RuntimeError):
    """The engine, the plugin, an image or the stack could not be had. Says why."""


def _run(
    command: Sequence[str | Path],
    *,
    env: dict[str, str] | None = None,
    timeout: float,
    what: str,
) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise ComposeUnavailable(
            f"{what} failed ({result.returncode}):\n{result.stderr[-4000:]}{result.stdout[-2000:]}"
        )
    return result.stdout


# -- ports ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    keycloak: int
    api: int
    spa: int
    postgres: int
    redis: int


_PORT_SLOTS = range(15000, 20000, 10)


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def published_ports() -> Ports:
    """Five free ports for the stack, the same ones for a checkout from run to run.

    The SPA image names two of them in its build (Keycloak's and the API's URLs), so
    stable ports keep it cached; the checkout's path picks the first slot of ten ports
    in 15000-19999, and a slot with a taken port moves to the next. The range is below
    the one tests/services.free_port hands out, so no server of the suite takes them.
    """
    first = zlib.crc32(str(ROOT).encode()) % len(_PORT_SLOTS)
    for offset in range(len(_PORT_SLOTS)):
        base = _PORT_SLOTS[(first + offset) % len(_PORT_SLOTS)]
        if all(_free(port) for port in range(base, base + 5)):
            return Ports(*range(base, base + 5))
    raise ComposeUnavailable("no five free consecutive loopback ports in 15000-19999")


# -- the engine ----------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """A Docker engine and a compose v2 plugin, as environment variables for the CLI."""

    docker_host: str
    #: DOCKER_CONFIG holding the plugin built by compose/compose-plugin.sh, when the
    #: machine has no compose v2 of its own.
    docker_config: str | None

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            **extra,
        }
        if self.docker_host:
            env["DOCKER_HOST"] = self.docker_host
        if self.docker_config:
            env["DOCKER_CONFIG"] = self.docker_config
        return env

    def docker(self, *args: str, timeout: float = 600, what: str = "docker") -> str:
        return _run(["docker", *args], env=self.env(), timeout=timeout, what=what)


#: The socket of the engine compose/engine.sh starts when the machine has none.
OWN_ENGINE = "unix:///run/todo-oidc-engine/docker.sock"


def host_network_state() -> str:
    """What dockerd changes on the host: iptables' filter and nat rules (without packet
    counters), IPv4 forwarding, the bridges. Empty where it cannot be read (not root)."""
    parts = []
    for command in (
        ["iptables", "-S"],
        ["iptables", "-t", "nat", "-S"],
        ["sysctl", "-n", "net.ipv4.ip_forward"],
        ["ip", "-o", "link", "show", "type", "bridge"],
    ):
        with contextlib.suppress(OSError):
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            # A bridge's line carries its changing counters and flags: its name will do.
            lines = [
                line.split(":")[1] if command[0] == "ip" else line
                for line in result.stdout.splitlines()
            ]
            parts.append(f"$ {' '.join(command)}\n" + "\n".join(lines))
    return "\n".join(parts)


@contextlib.contextmanager
def engine() -> Iterator[Engine]:
    """The machine's engine, or one of our own (started, and stopped afterwards). When it
    was our own, the host's firewall, forwarding and bridges must be as they were."""
    script_env = {**os.environ, "TODO_COMPOSE_CACHE": str(CACHE)}
    # Without iptables yet (engine.sh installs it with docker.io) there is no "before".
    before = host_network_state() if shutil.which("iptables") else None
    docker_host = _run(
        [SCRIPTS / "engine.sh", "start"], env=script_env, timeout=1800, what="engine.sh start"
    ).strip()
    try:
        plugin = _run(
            [SCRIPTS / "compose-plugin.sh"],
            env=script_env,
            timeout=900,
            what="compose-plugin.sh (compose v2)",
        ).strip()
        docker_config = None if plugin == "machine" else str(Path(plugin).parent.parent)
        yield Engine(docker_host, docker_config)
    finally:
        _run([SCRIPTS / "engine.sh", "stop"], env=script_env, timeout=120, what="engine.sh stop")
    # An engine of ours already running before (a run that was killed) had changed the
    # state we read first: nothing to compare against then.
    if docker_host == OWN_ENGINE and before is not None and "DOCKER" not in before:
        after = host_network_state()
        if after != before:
            raise ComposeUnavailable(
                f"the host's network state was not restored:\nbefore:\n{before}\nafter:\n{after}"
            )


def image_variables(engine: Engine) -> dict[str, str]:
    """VARIABLE -> image for every image variable (compose/images.sh)."""
    output = _run(
        [SCRIPTS / "images.sh"],
        env=engine.env(TODO_COMPOSE_CACHE=str(CACHE)),
        timeout=1800,
        what="compose/images.sh (the stack's images)",
    )
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def build_ca_certs() -> str:
    """Extra CA certificates for the builds: BUILD_CA_CERTS if set, else the host's."""
    if configured := os.environ.get("BUILD_CA_CERTS"):
        return configured
    if not EXTRA_CA_DIR.is_dir():
        return ""
    return "".join(path.read_text() for path in sorted(EXTRA_CA_DIR.rglob("*.crt")))


# -- the stack -----------------------------------------------------------------------


@dataclass
class Stack:
    engine: Engine
    ports: Ports
    images: dict[str, str]

    @property
    def keycloak_url(self) -> str:
        return f"http://localhost:{self.ports.keycloak}"

    @property
    def issuer(self) -> str:
        return f"{self.keycloak_url}/realms/todo"

    @property
    def api_url(self) -> str:
        return f"http://localhost:{self.ports.api}"

    @property
    def spa_url(self) -> str:
        return f"http://localhost:{self.ports.spa}"

    @property
    def postgres_url(self) -> str:
        return f"postgresql://todo:todo@127.0.0.1:{self.ports.postgres}/todo"

    def _env_file(self) -> Path:
        """The compose file's variables; also keeps a .env in the checkout out of the way."""
        values = {
            **self.images,
            "KEYCLOAK_HOST_PORT": self.ports.keycloak,
            "API_HOST_PORT": self.ports.api,
            "SPA_HOST_PORT": self.ports.spa,
            "POSTGRES_HOST_PORT": self.ports.postgres,
            "REDIS_HOST_PORT": self.ports.redis,
        }
        CACHE.mkdir(parents=True, exist_ok=True)
        path = CACHE / "stack.env"
        path.write_text("".join(f"{name}={value}\n" for name, value in sorted(values.items())))
        return path

    def compose(self, *args: str, timeout: float = 600, what: str | None = None) -> str:
        command = [
            "docker",
            "compose",
            "--project-name",
            PROJECT,
            "--project-directory",
            str(ROOT),
            "--file",
            str(ROOT / "docker-compose.yml"),
            "--env-file",
            str(self._env_file()),
            *args,
        ]
        # BUILD_CA_CERTS spans lines: the process environment carries it, not the env file.
        env = self.engine.env(BUILD_CA_CERTS=build_ca_certs())
        return _run(command, env=env, timeout=timeout, what=what or f"docker compose {args[0]}")

    def build(self) -> None:
        self.compose("build", timeout=1800)

    def up(self) -> None:
        try:
            self.compose("up", "--build", "--wait", "--wait-timeout", "300", timeout=1800)
        except ComposeUnavailable as exc:
            raise ComposeUnavailable(f"{exc}\n{self.diagnosis()}") from exc

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=300)

    def services(self) -> list[dict[str, object]]:
        """`docker compose ps` of every service, running or not, as JSON objects."""
        output = self.compose("ps", "--all", "--format", "json")
        stripped = output.strip()
        if stripped.startswith("["):
            services: list[dict[str, object]] = json.loads(stripped)
            return services
        return [json.loads(line) for line in stripped.splitlines() if line]

    def diagnosis(self) -> str:
        """The services' states and their last log lines, for a failure message."""
        with contextlib.suppress(ComposeUnavailable):
            states = "\n".join(
                f"  {service.get('Service')}: {service.get('State')} {service.get('Health', '')}"
                for service in self.services()
            )
            logs = self.compose("logs", "--no-color", "--tail", "40")
            return f"services:\n{states}\nlogs:\n{logs[-8000:]}"
        return "(no diagnosis: docker compose ps failed too)"


def _classic_builder_unless_buildx(engine: Engine) -> dict[str, str]:
    """DOCKER_BUILDKIT=0 where the CLI has no buildx (Debian's engine): the CLI would
    otherwise refuse to build. With buildx, BuildKit builds."""
    buildx = subprocess.run(
        ["docker", "buildx", "version"], env=engine.env(), capture_output=True, check=False
    )
    return {} if buildx.returncode == 0 else {"DOCKER_BUILDKIT": "0"}


def build_python_tests_image(engine: Engine, images: dict[str, str], version: str) -> str:
    """The container test image of one Python version (compose/python-tests.Dockerfile)."""
    tag = PYTHON_TESTS_IMAGE.format(version=version)
    _run(
        [
            "docker",
            "build",
            "--quiet",
            "--file",
            SCRIPTS / "python-tests.Dockerfile",
            "--build-arg",
            f"PYTHON_IMAGE={images[PYTHON_TESTS_BASES[version]]}",
            "--build-arg",
            f"BUILD_CA_CERTS={build_ca_certs()}",
            "--tag",
            tag,
            SCRIPTS,  # a small context: the Dockerfile copies nothing from it
        ],
        env=engine.env(**_classic_builder_unless_buildx(engine)),
        timeout=1800,
        what=f"building {tag}",
    )
    return tag


def main(argv: Sequence[str]) -> int:
    """``build``: everything the compose and python_versions tiers need, built ahead."""
    if list(argv) != ["build"]:
        print("usage: python -m tests.compose.stack build", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        with engine() as docker:
            images = image_variables(docker)
            stack = Stack(docker, published_ports(), images)
            stack.build()
            for version in PYTHON_TESTS_BASES:
                build_python_tests_image(docker, images, version)
    except ComposeUnavailable as exc:
        print(f"compose: {exc}", file=sys.stderr)
        return 1
    print(
        f"compose: images ready in {time.monotonic() - started:.0f} s: "
        + ", ".join(f"{name}={image}" for name, image in sorted(images.items()))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
