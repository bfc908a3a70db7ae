#!/usr/bin/env bash
# The base images of the compose stack and of the container test runs, on the engine
# DOCKER_HOST names. Prints one VARIABLE=image line per image variable, for compose's
# --env-file and for `docker build --build-arg`.
#
#   DOCKER_HOST=... compose/images.sh
#
# Each variable's default is the upstream image named in docker-compose.yml or in a
# Dockerfile's `ARG *_IMAGE=` line (read from there, so there is one list). That image
# is used when the engine has it or can pull it. Otherwise a stand-in is built from
# Debian packages (recipes in compose/standins/) under this project's own name,
# todo-oidc-local/*, never an upstream name: nothing a user has is shadowed. The base of
# the stand-ins is a debootstrap of bookworm or trixie (--variant=minbase), imported with
# `docker import`. Each image carries the hash of its recipe as a label and is rebuilt
# only when the recipe changes.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly RECIPES=$REPO_ROOT/compose/standins
readonly CACHE_DIR=${TODO_COMPOSE_CACHE:-$REPO_ROOT/.cache/compose}
readonly LOGS=$CACHE_DIR/logs
readonly MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
readonly SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
readonly LABEL=org.todo-oidc.recipe

KC_VERSION=$(sed -n 's/^readonly KC_VERSION=\([0-9][0-9A-Za-z.-]*\)$/\1/p' \
    "$REPO_ROOT/keycloak/local-keycloak.sh")
readonly KC_VERSION
readonly KC_ZIP=$REPO_ROOT/.cache/keycloak/keycloak-quarkus-dist-$KC_VERSION.zip

# variable -> stand-in name, recipe, Debian suite, the version the recipe must find.
declare -A STAND_IN=(
    [KEYCLOAK_IMAGE]="todo-oidc-local/keycloak:$KC_VERSION keycloak trixie KEYCLOAK_VERSION=$KC_VERSION"
    [POSTGRES_IMAGE]="todo-oidc-local/postgres:17 postgres trixie POSTGRES_MAJOR=17"
    [REDIS_IMAGE]="todo-oidc-local/redis:7.0 redis bookworm REDIS_VERSION=7.0"
    [PYTHON_IMAGE]="todo-oidc-local/python:3.11 python bookworm PYTHON_VERSION=3.11"
    [PYTHON_313_IMAGE]="todo-oidc-local/python:3.13 python trixie PYTHON_VERSION=3.13"
    [NODE_IMAGE]="todo-oidc-local/node:20 node trixie NODE_MAJOR=20"
    [NGINX_IMAGE]="todo-oidc-local/nginx:1.26 nginx trixie NGINX_VERSION=1.26"
)

die() {
    echo "images: $*" >&2
    exit 1
}

log() {
    echo "images: $*" >&2
}

# VARIABLE=default for every image variable of the compose file and the Dockerfiles.
upstream_defaults() {
    grep -ohE '\$\{[A-Z0-9_]+_IMAGE:-[^}]+\}' "$REPO_ROOT/docker-compose.yml" |
        sed -E 's/^\$\{([A-Z0-9_]+):-(.*)\}$/\1=\2/'
    local dockerfiles=("$REPO_ROOT/Dockerfile")
    dockerfiles+=("$REPO_ROOT/frontend-mock/Dockerfile")  # feature: frontend-mock
    grep -hE '^ARG [A-Z0-9_]+_IMAGE=' "${dockerfiles[@]}" |
        sed -E 's/^ARG //'
    # The interpreters of the container test runs (compose/python-tests.Dockerfile).
    echo "PYTHON_313_IMAGE=python:3.13-slim"
}

have_image() {
    docker image inspect "$1" >/dev/null 2>&1
}

recipe_label() {
    docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true
}

# Registries that refused a pull once are not asked again in this run.
declare -A UNREACHABLE=()

pullable() {
    local image=$1 registry=docker.io
    # A registry host is a first path component with a dot or a port (quay.io/...).
    [[ $image == */* && ${image%%/*} == *[.:]* ]] && registry=${image%%/*}
    [[ -n ${UNREACHABLE[$registry]:-} ]] && return 1
    if timeout 300 docker pull -q "$image" >/dev/null 2>"$LOGS/pull.err"; then
        return 0
    fi
    log "cannot pull $image ($(tail -n 1 "$LOGS/pull.err")): using a stand-in"
    UNREACHABLE[$registry]=1
    return 1
}

# -- stand-ins -------------------------------------------------------------------------

install_debootstrap() {
    # Once, before the suites are built side by side: two apt-get runs at once fail on
    # dpkg's lock.
    command -v debootstrap >/dev/null && return
    [[ $(id -u) -eq 0 ]] || die "debootstrap is not installed (apt-get install debootstrap)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        debootstrap >/dev/null 2>&1 ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends debootstrap >/dev/null; } ||
        die "apt-get install debootstrap failed"
}

debian_base() {
    # todo-oidc-local/debian:<suite>, a minbase debootstrap. Its label is its recipe.
    local suite=$1 name=todo-oidc-local/debian:$1
    local recipe="debootstrap --variant=minbase $suite $MIRROR + security, policy-rc.d"
    [[ $(recipe_label "$name") == "$recipe" ]] && return
    log "debootstrap $suite (minbase) for $name"
    local root
    root=$(mktemp -d "$CACHE_DIR/rootfs-$suite.XXXXXX")
    debootstrap --variant=minbase "$suite" "$root" "$MIRROR" >"$LOGS/debootstrap-$suite.log" 2>&1 ||
        die "debootstrap $suite failed; its log: $LOGS/debootstrap-$suite.log"
    cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $suite main
deb $MIRROR $suite-updates main
deb $SECURITY_MIRROR $suite-security main
EOF
    # As in Debian's own images: package scripts do not start services in a container.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod +x "$root/usr/sbin/policy-rc.d"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' --change "LABEL $LABEL=\"$recipe\"" - "$name" >/dev/null
    rm -rf "$root"
}

build_stand_in() {
    # build_stand_in VARIABLE: builds the stand-in unless its recipe is unchanged.
    local name recipe suite version_arg
    read -r name recipe suite version_arg <<<"${STAND_IN[$1]}"
    local context
    context=$(mktemp -d "$CACHE_DIR/context-$recipe.XXXXXX")
    cp "$RECIPES/$recipe.Dockerfile" "$context/Dockerfile"
    [[ $recipe == postgres ]] && cp "$RECIPES/postgres-entrypoint.sh" "$context/"
    if [[ $recipe == keycloak ]]; then
        [[ -f $KC_ZIP ]] || die "$KC_ZIP is missing: run \`make keycloak\` first"
        unzip -q "$KC_ZIP" -d "$context"
    fi
    local base_id hash
    base_id=$(docker image inspect --format '{{.Id}}' "todo-oidc-local/debian:$suite")
    # The recipe's files, the base's id and the version: not the Keycloak zip itself,
    # which its version names.
    hash=$({ cat "$RECIPES/$recipe.Dockerfile"; [[ $recipe != postgres ]] ||
        cat "$RECIPES/postgres-entrypoint.sh"; echo "$base_id $version_arg"; } |
        sha256sum | cut -c1-16)
    if [[ $(recipe_label "$name") == "$hash" ]]; then
        rm -rf "$context"
        return
    fi
    log "building stand-in $name from Debian $suite (log: $LOGS/$recipe-$suite.log)"
    if ! DOCKER_BUILDKIT=0 docker build --quiet --label "$LABEL=$hash" \
        --build-arg "BASE_IMAGE=todo-oidc-local/debian:$suite" --build-arg "$version_arg" \
        --tag "$name" "$context" >"$LOGS/$recipe-$suite.log" 2>&1; then
        rm -rf "$context"
        die "building $name failed; its log, $LOGS/$recipe-$suite.log:
$(tail -n 20 "$LOGS/$recipe-$suite.log")"
    fi
    rm -rf "$context"
}

# -- main ------------------------------------------------------------------------------

mkdir -p "$LOGS"
docker info >/dev/null 2>&1 || die "no Docker engine answers at ${DOCKER_HOST:-the default socket}"

declare -A CHOSEN=()
needed=()
while IFS='=' read -r variable upstream; do
    [[ -n ${CHOSEN[$variable]:-} ]] && continue
    if have_image "$upstream" || pullable "$upstream"; then
        CHOSEN[$variable]=$upstream
    else
        [[ -n ${STAND_IN[$variable]:-} ]] || die "$upstream cannot be pulled and there is no stand-in recipe for $variable"
        CHOSEN[$variable]=${STAND_IN[$variable]%% *}
        needed+=("$variable")
    fi
done < <(upstream_defaults)

if ((${#needed[@]})); then
    declare -A suites=()
    for variable in "${needed[@]}"; do
        read -r _ _ suite _ <<<"${STAND_IN[$variable]}"
        suites[$suite]=1
    done
    install_debootstrap
    pids=()
    for suite in "${!suites[@]}"; do
        debian_base "$suite" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || exit 1; done
    # Two at a time: they download and unpack, and the machine has two cores.
    pids=()
    for variable in "${needed[@]}"; do
        build_stand_in "$variable" &
        pids+=($!)
        if ((${#pids[@]} == 2)); then
            wait "${pids[0]}" || exit 1
            pids=("${pids[@]:1}")
        fi
    done
    for pid in "${pids[@]}"; do wait "$pid" || exit 1; done
fi

for variable in "${!CHOSEN[@]}"; do
    echo "$variable=${CHOSEN[$variable]}"
done | sort
