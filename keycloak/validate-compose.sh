#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine (CI has none):
#   1. the Compose Specification JSON schema, as vendored by check-jsonschema (pinned,
#      fetched from PyPI by uv and cached);
#   2. `docker compose config -q` as well, when a compose v2 plugin happens to be installed;
#   3. the project's own rules (keycloak/validate_compose.py): Keycloak image tag equal to
#      local-keycloak.sh's KC_VERSION, realm mounts, issuer/discovery split, start order.
set -euo pipefail

readonly CHECK_JSONSCHEMA_VERSION=0.39.0

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly COMPOSE_FILE=$REPO_ROOT/docker-compose.yml

die() {
    echo "validate-compose: $*" >&2
    exit 1
}

uv_bin=$(command -v uv || true)
[[ -z $uv_bin && -x $REPO_ROOT/.tools/bin/uv ]] && uv_bin=$REPO_ROOT/.tools/bin/uv
[[ -n $uv_bin ]] || die "uv not found (PATH or .tools/bin/uv): it runs check-jsonschema"

"$uv_bin" tool run --quiet --from "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" \
    check-jsonschema --builtin-schema vendor.compose-spec "$COMPOSE_FILE"

if docker compose version >/dev/null 2>&1; then
    docker compose -f "$COMPOSE_FILE" config -q
    echo "docker compose config: ok"
fi

python=$REPO_ROOT/.venv/bin/python
[[ -x $python ]] || python=python3
"$python" "$REPO_ROOT/keycloak/validate_compose.py" "$COMPOSE_FILE"
