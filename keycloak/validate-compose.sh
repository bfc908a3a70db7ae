#!/usr/bin/env bash
# Validates docker-compose.yml without a Docker engine (CI has none):
#   1. the Compose Specification JSON schema, as vendored by check-jsonschema (pinned,
#      fetched from PyPI by uv and cached);
#   2. `docker compose config -q` as well, when a compose v2 plugin happens to be installed;
#   3. the one project rule: the Keycloak image tag equals local-keycloak.sh's KC_VERSION,
#      so the compose stack runs the version the end-to-end tests ran. Nothing else is
#      pinned: the compose file is the user's to edit.
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

kc_version=$(sed -n 's/^readonly KC_VERSION=\([0-9][0-9A-Za-z.-]*\)$/\1/p' \
    "$REPO_ROOT/keycloak/local-keycloak.sh")
[[ -n $kc_version ]] || die "no 'readonly KC_VERSION=' in keycloak/local-keycloak.sh"
images=$(grep -oE 'quay\.io/keycloak/keycloak:[^"[:space:]]+' "$COMPOSE_FILE" | sort -u)
[[ $images == "quay.io/keycloak/keycloak:$kc_version" ]] ||
    die "the Keycloak image in docker-compose.yml (${images:-none}) must be quay.io/keycloak/keycloak:$kc_version, the version local-keycloak.sh runs"
echo "docker-compose.yml: Keycloak $kc_version, as tested"
