"""Project rules for docker-compose.yml that a schema cannot express.

The Compose Specification schema itself is checked by keycloak/validate-compose.sh; this
script checks what ties the compose file to the rest of the repository: the Keycloak
version pinned in local-keycloak.sh, the realm files, the issuer/discovery split of the
hostname v2 setup, the SPA origins registered in the realm, health-gated start order.
It does not start anything and needs no Docker engine.

Usage: python keycloak/validate_compose.py [path/to/docker-compose.yml]
Exit status 0 when every rule holds, 1 otherwise (each broken rule is printed).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
KEYCLOAK_DIR = REPO_ROOT / "keycloak"
IMPORT_DIR = "/opt/keycloak/data/import"
API_ENV = {
    "OIDC_AUDIENCE": "todo-api",
    "OIDC_MODE": "verify",
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql+psycopg://todo:todo@postgres:5432/todo",
    "REDIS_URL": "redis://redis:6379/0",
}


def pinned_keycloak_version() -> str:
    script = (KEYCLOAK_DIR / "local-keycloak.sh").read_text()
    match = re.search(r"^readonly KC_VERSION=([0-9][0-9A-Za-z.\-]*)$", script, re.MULTILINE)
    if match is None:
        raise SystemExit("validate_compose: no 'readonly KC_VERSION=' in local-keycloak.sh")
    return match.group(1)


def env_of(service: dict[str, Any]) -> dict[str, str]:
    """Compose allows `environment` as a mapping or as a list of KEY=VALUE."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def check_keycloak(services: dict[str, Any], problems: list[str]) -> str:
    """Returns the frontend URL (KC_HOSTNAME) for the issuer checks."""
    kc = services.get("keycloak")
    if kc is None:
        problems.append("no 'keycloak' service")
        return ""
    expected = f"quay.io/keycloak/keycloak:{pinned_keycloak_version()}"
    if kc.get("image") != expected:
        problems.append(f"keycloak image {kc.get('image')!r} != {expected!r} (local-keycloak.sh)")
    command = kc.get("command") or []
    command = command.split() if isinstance(command, str) else command
    if command[:1] != ["start-dev"] or "--import-realm" not in command:
        problems.append("keycloak command must be start-dev --import-realm")
    env = env_of(kc)
    for key, value in (("KC_HOSTNAME_BACKCHANNEL_DYNAMIC", "true"), ("KC_HEALTH_ENABLED", "true")):
        if env.get(key) != value:
            problems.append(f"keycloak {key} must be {value!r}")
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in kc.get("volumes") or []}
    for realm in sorted(KEYCLOAK_DIR.glob("*-realm.json")):
        source = mounts.get(f"{IMPORT_DIR}/{realm.name}")
        if source is None or (REPO_ROOT / source).resolve() != realm:
            problems.append(f"{realm.name} is not mounted into {IMPORT_DIR}")
    return env.get("KC_HOSTNAME", "")


def spa_web_origins() -> set[str]:
    realm = json.loads((KEYCLOAK_DIR / "todo-realm.json").read_text())
    spa = next(c for c in realm["clients"] if c["clientId"] == "todo-spa")
    return set(spa["webOrigins"])


def check_api(services: dict[str, Any], frontend_url: str, problems: list[str]) -> None:
    env = env_of(services.get("api", {}))
    for key, value in API_ENV.items():
        if env.get(key) != value:
            problems.append(f"api {key} is {env.get(key)!r}, expected {value!r}")
    # The exact `iss` is the frontend URL; discovery is fetched over the compose network.
    if env.get("OIDC_ISSUER_URI") != f"{frontend_url}/realms/todo":
        problems.append(f"api OIDC_ISSUER_URI must be KC_HOSTNAME + /realms/todo ({frontend_url})")
    discovery = urlsplit(env.get("OIDC_DISCOVERY_URI", ""))
    if (discovery.hostname, discovery.port, discovery.path) != (
        "keycloak",
        8080,
        "/realms/todo/.well-known/openid-configuration",
    ):
        problems.append("api OIDC_DISCOVERY_URI must be http://keycloak:8080/realms/todo/...")
    origins = set(json.loads(env.get("CORS_ORIGINS", "[]")))
    if not origins or not origins <= spa_web_origins():
        problems.append("api CORS_ORIGINS must be web origins of todo-spa in todo-realm.json")


def has_healthcheck(service: dict[str, Any]) -> bool:
    if "healthcheck" in service:
        return not service["healthcheck"].get("disable", False)
    build = service.get("build")
    if build is None:
        return False
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = REPO_ROOT / context / "Dockerfile"
    return dockerfile.is_file() and "HEALTHCHECK" in dockerfile.read_text()


def check_services(services: dict[str, Any], problems: list[str], notes: list[str]) -> None:
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            if dep not in services:
                problems.append(f"{name} depends on unknown service {dep!r}")
            elif spec.get("condition") == "service_healthy" and not has_healthcheck(services[dep]):
                problems.append(f"{name} waits for {dep} to be healthy; {dep} has no health check")
        problems.extend(
            f"{name} publishes {port} beyond loopback"
            for port in service.get("ports") or []
            if not str(port).startswith("127.0.0.1:")
        )
        build = service.get("build")
        if build is not None:
            context = build if isinstance(build, str) else build.get("context", ".")
            if not (REPO_ROOT / context / "Dockerfile").is_file():
                # frontend-mock's Dockerfile belongs to its own directory's owner.
                notes.append(f"note: {name}: no Dockerfile in {context} yet")


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "docker-compose.yml"
    compose = yaml.safe_load(path.read_text())
    services: dict[str, Any] = compose.get("services") or {}
    problems: list[str] = []
    notes: list[str] = []
    frontend_url = check_keycloak(services, problems)
    check_api(services, frontend_url, problems)
    check_services(services, problems, notes)
    for line in notes:
        print(line)
    for line in problems:
        print(f"FAIL: {line}")
    if problems:
        return 1
    print(f"{path.name}: project rules hold ({len(services)} services)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
