#!/usr/bin/env bash
# Static checks of docker-compose.yml and the Dockerfiles (`make compose-check`, part of
# `make check`); `make test` also brings the stack up for real (tests/compose/).
#   1. the Compose Specification JSON schema, as vendored by check-jsonschema (pinned,
#      fetched from PyPI by uv and cached);
#   2. `docker compose config -q`, with the machine's compose v2 plugin or the one
#      compose/compose-plugin.sh built, when there is one (no engine needed);
#   3. the project's rules: every image is a variable whose default is an upstream
#      image (never a local stand-in's name), every FROM is such a variable or an earlier
#      stage, no `# syntax=` line (BuildKit would pull it from a registry), and the
#      Keycloak image's tag is local-keycloak.sh's KC_VERSION, so the compose stack runs
#      the version the end-to-end tests ran.
set -euo pipefail

readonly CHECK_JSONSCHEMA_VERSION=0.39.0

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly COMPOSE_FILE=$REPO_ROOT/docker-compose.yml
dockerfiles=("$REPO_ROOT/Dockerfile")
dockerfiles+=("$REPO_ROOT/frontend-mock/Dockerfile")  # feature: frontend-mock
readonly DOCKERFILES=("${dockerfiles[@]}")
readonly PLUGIN_DIR=${TODO_COMPOSE_CACHE:-$REPO_ROOT/.cache/compose}/cli-plugins

failures=0
fail() {
    echo "validate-compose: $*" >&2
    failures=$((failures + 1))
}

uv_bin=$(command -v uv || true)
[[ -z $uv_bin && -x $REPO_ROOT/.tools/bin/uv ]] && uv_bin=$REPO_ROOT/.tools/bin/uv
[[ -n $uv_bin ]] || {
    echo "validate-compose: uv not found (PATH or .tools/bin/uv): it runs check-jsonschema" >&2
    exit 1
}

"$uv_bin" tool run --quiet --from "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" \
    check-jsonschema --builtin-schema vendor.compose-spec "$COMPOSE_FILE"

if docker compose version >/dev/null 2>&1; then
    docker compose -f "$COMPOSE_FILE" config -q && echo "docker compose config: ok"
elif [[ -x $PLUGIN_DIR/docker-compose ]]; then
    DOCKER_CONFIG=$(dirname "$PLUGIN_DIR") docker compose -f "$COMPOSE_FILE" config -q &&
        echo "docker compose config ($("$PLUGIN_DIR/docker-compose" version --short)): ok"
fi

# -- images as variables -------------------------------------------------------------

while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*image:[[:space:]]*\$\{([A-Z0-9_]+_IMAGE):-([^}]+)\}[[:space:]]*$ ]] ||
        { fail "docker-compose.yml: '$line' is not image: \${NAME_IMAGE:-upstream image}"; continue; }
    [[ ${BASH_REMATCH[2]} == todo-oidc-local/* ]] &&
        fail "docker-compose.yml: ${BASH_REMATCH[1]} defaults to a local stand-in, not an upstream image"
done < <(grep -E '^[[:space:]]*image:' "$COMPOSE_FILE")

for dockerfile in "${DOCKERFILES[@]}"; do
    name=${dockerfile#"$REPO_ROOT/"}
    grep -qiE '^#[[:space:]]*syntax=' "$dockerfile" &&
        fail "$name: a '# syntax=' line makes BuildKit pull a frontend from a registry"
    declare -A variables=() stages=()
    while IFS= read -r line; do
        if [[ $line =~ ^ARG[[:space:]]+([A-Z0-9_]+_IMAGE)=(.+)$ ]]; then
            variables[${BASH_REMATCH[1]}]=1
            [[ ${BASH_REMATCH[2]} == todo-oidc-local/* ]] &&
                fail "$name: ${BASH_REMATCH[1]} defaults to a local stand-in, not an upstream image"
        elif [[ $line =~ ^FROM[[:space:]]+([^[:space:]]+)([[:space:]]+AS[[:space:]]+([^[:space:]]+))?$ ]]; then
            base=${BASH_REMATCH[1]} stage=${BASH_REMATCH[3]}
            if [[ $base =~ ^\$\{([A-Z0-9_]+_IMAGE)\}$ ]]; then
                [[ -n ${variables[${BASH_REMATCH[1]}]:-} ]] ||
                    fail "$name: FROM $base has no 'ARG ${BASH_REMATCH[1]}=<upstream image>' before it"
            elif [[ -z ${stages[$base]:-} ]]; then
                fail "$name: FROM $base is neither \${NAME_IMAGE} nor an earlier stage"
            fi
            [[ -n $stage ]] && stages[$stage]=1
        fi
    done <"$dockerfile"
    unset variables stages
done

# -- the Keycloak version ------------------------------------------------------------

kc_version=$(sed -n 's/^readonly KC_VERSION=\([0-9][0-9A-Za-z.-]*\)$/\1/p' \
    "$REPO_ROOT/keycloak/local-keycloak.sh")
[[ -n $kc_version ]] || fail "no 'readonly KC_VERSION=' in keycloak/local-keycloak.sh"
images=$(grep -oE 'quay\.io/keycloak/keycloak:[^"}[:space:]]+' "$COMPOSE_FILE" | sort -u)
[[ $images == "quay.io/keycloak/keycloak:$kc_version" ]] ||
    fail "the Keycloak image in docker-compose.yml (${images:-none}) must be quay.io/keycloak/keycloak:$kc_version, the version local-keycloak.sh runs"

((failures == 0)) || exit 1
echo "docker-compose.yml and Dockerfiles: images are variables with upstream defaults; Keycloak $kc_version, as tested"
