#!/usr/bin/env bash
# Keycloak from its distribution zip, without Docker: what the e2e tests and CI use.
#
#   keycloak/local-keycloak.sh fetch|start|wait|stop|status|run [-- extra kc.sh options]
#
# Every start is clean: in-memory H2 database (dev-mem) and a fresh data/ directory,
# so the realms in keycloak/*.json are imported anew. Loopback only. Test-only admin
# account admin/admin (override with KC_BOOTSTRAP_ADMIN_USERNAME/_PASSWORD).
#
# Environment:
#   KC_PORT            HTTP port (default 8180)
#   KC_HOSTNAME        frontend URL, fixes `iss` (default http://127.0.0.1:$KC_PORT)
#   KC_MODE            dev (default: start-dev) or optimized (`build` once, then
#                      `start --optimized`); dev reached readiness faster here, see README
#   KC_CACHE_DIR       download/unpack/pid/log dir (default <repo>/.cache/keycloak)
#   KC_WAIT_TIMEOUT    seconds `wait` allows before failing (default 240)
#   JAVA_HOME          a Java 21+ JDK; if unset, PATH and /usr/lib/jvm/* are searched
set -euo pipefail

# Keep equal to the image tag in docker-compose.yml (compose/validate.sh checks it).
readonly KC_VERSION=26.7.3

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly REALM_DIR=$REPO_ROOT/keycloak
readonly CACHE_DIR=${KC_CACHE_DIR:-$REPO_ROOT/.cache/keycloak}
readonly KC_HOME=$CACHE_DIR/keycloak-$KC_VERSION
readonly PORT=${KC_PORT:-8180}
readonly FRONTEND_URL=${KC_HOSTNAME:-http://127.0.0.1:$PORT}
readonly MODE=${KC_MODE:-dev}
readonly WAIT_TIMEOUT=${KC_WAIT_TIMEOUT:-240}
readonly PID_FILE=$CACHE_DIR/keycloak-$PORT.pid
readonly LOG_FILE=$CACHE_DIR/keycloak-$PORT.log
# Build-time options (both modes); in optimized mode a change here triggers a rebuild.
readonly BUILD_OPTS=(--db=dev-mem)
readonly BUILD_STAMP=$KC_HOME/.todo-build-options

die() {
    echo "local-keycloak: $*" >&2
    exit 1
}

log() {
    echo "local-keycloak: $*" >&2
}

java_major() {
    # Prints the feature version of the given java binary (17, 21, 25...), or nothing.
    "$1" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}

find_java_home() {
    local candidate major
    if [[ -n ${JAVA_HOME:-} ]]; then
        [[ -x $JAVA_HOME/bin/java ]] || die "JAVA_HOME=$JAVA_HOME has no bin/java"
        major=$(java_major "$JAVA_HOME/bin/java") || major=0
        ((${major:-0} >= 21)) || die "Java 21+ required, JAVA_HOME=$JAVA_HOME is Java ${major:-?}: set JAVA_HOME to a Java 21+ JDK"
        echo "$JAVA_HOME"
        return
    fi
    for candidate in "$(dirname "$(dirname "$(readlink -f "$(command -v java || echo /nonexistent)")")")" \
        /usr/lib/jvm/*; do
        [[ -x $candidate/bin/java ]] || continue
        major=$(java_major "$candidate/bin/java") || major=0
        if ((${major:-0} >= 21)); then
            echo "$candidate"
            return
        fi
    done
    die "Java 21+ not found: set JAVA_HOME to a Java 21+ JDK (Keycloak $KC_VERSION does not run on 17)"
}

cmd_fetch() {
    if [[ -x $KC_HOME/bin/kc.sh ]]; then
        log "Keycloak $KC_VERSION present in $KC_HOME"
        return
    fi
    command -v mvn >/dev/null || die "mvn not found: Maven fetches org.keycloak:keycloak-quarkus-dist"
    command -v unzip >/dev/null || die "unzip not found (apt-get install unzip)"
    mkdir -p "$CACHE_DIR"
    local zip=$CACHE_DIR/keycloak-quarkus-dist-$KC_VERSION.zip
    if [[ ! -s $zip ]]; then
        log "downloading org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip"
        # Run from the cache dir so that no project pom.xml is picked up.
        (cd "$CACHE_DIR" && mvn -B -q dependency:copy \
            "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KC_VERSION:zip" \
            "-DoutputDirectory=$CACHE_DIR") || die "mvn dependency:copy failed"
    fi
    # Unpack next to the target and rename, so an interrupted fetch leaves no half tree.
    local tmp
    tmp=$(mktemp -d "$CACHE_DIR/unpack.XXXXXX")
    unzip -q "$zip" -d "$tmp" || { rm -rf "$tmp"; die "cannot unzip $zip"; }
    mv "$tmp/keycloak-$KC_VERSION" "$KC_HOME"
    rmdir "$tmp"
    log "Keycloak $KC_VERSION unpacked in $KC_HOME"
}

ensure_built() {
    # `start --optimized` needs a prior `build` with the same build-time options.
    [[ $MODE == optimized ]] || return 0
    if [[ -f $BUILD_STAMP && $(cat "$BUILD_STAMP") == "${BUILD_OPTS[*]}" ]]; then
        return
    fi
    log "building optimized server (${BUILD_OPTS[*]})"
    rm -f "$BUILD_STAMP"
    "$KC_HOME/bin/kc.sh" build "${BUILD_OPTS[@]}" >"$CACHE_DIR/build.log" 2>&1 ||
        { tail -n 30 "$CACHE_DIR/build.log" >&2; die "kc.sh build failed (log: $CACHE_DIR/build.log)"; }
    echo "${BUILD_OPTS[*]}" >"$BUILD_STAMP"
}

prepare_data() {
    # A throwaway data dir: nothing survives from a previous run, realms are re-imported.
    rm -rf "$KC_HOME/data"
    mkdir -p "$KC_HOME/data/import"
    local realm found=0
    for realm in "$REALM_DIR"/*-realm.json; do
        [[ -f $realm ]] || continue
        cp "$realm" "$KC_HOME/data/import/"
        found=1
    done
    ((found)) || die "no realm files ($REALM_DIR/*-realm.json)"
}

server_args() {
    local -a args
    if [[ $MODE == optimized ]]; then
        # cache=local: no JGroups cluster (prod mode would otherwise open port 57800 on all
        # interfaces and spend seconds on discovery). It is a runtime option in Keycloak 26.
        args=(start --optimized --http-enabled=true --cache=local)
    elif [[ $MODE == dev ]]; then
        args=(start-dev "${BUILD_OPTS[@]}")
        # start-dev re-augments the server in place: the optimized build is gone after it.
        rm -f "$BUILD_STAMP"
    fi
    args+=(
        --http-host=127.0.0.1 --http-port="$PORT"
        --hostname="$FRONTEND_URL"
        --import-realm
        --log-console-color=false
    )
    printf '%s\n' "${args[@]}"
}

running_pid() {
    # Prints the pid of our Keycloak if its pid file names a live process.
    [[ -f $PID_FILE ]] || return 1
    local pid
    pid=$(cat "$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

setup_env() {
    JAVA_HOME=$(find_java_home)
    export JAVA_HOME
    # Test-only bootstrap admin; documented in keycloak/README.md.
    export KC_BOOTSTRAP_ADMIN_USERNAME=${KC_BOOTSTRAP_ADMIN_USERNAME:-admin}
    export KC_BOOTSTRAP_ADMIN_PASSWORD=${KC_BOOTSTRAP_ADMIN_PASSWORD:-admin}
    [[ -x $KC_HOME/bin/kc.sh ]] || cmd_fetch
}

cmd_start() {
    local pid
    if pid=$(running_pid); then
        die "already running on port $PORT (pid $pid): run '$0 stop' first"
    fi
    port_in_use && die "port $PORT is already in use by another process: set KC_PORT"
    setup_env
    ensure_built
    prepare_data
    local -a args
    mapfile -t args < <(server_args)
    # setsid: Keycloak gets its own process group, so `stop` ends kc.sh and its JVM together.
    setsid "$KC_HOME/bin/kc.sh" "${args[@]}" "$@" </dev/null >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    log "started (pid $!, mode $MODE, $FRONTEND_URL, log $LOG_FILE)"
}

cmd_wait() {
    local url=http://127.0.0.1:$PORT/realms/todo/.well-known/openid-configuration
    local deadline=$((SECONDS + WAIT_TIMEOUT))
    while ((SECONDS < deadline)); do
        # The log line proves the answer comes from our server, not from another
        # process that took the port while Keycloak was booting.
        if grep -q "Listening on: http://127.0.0.1:$PORT" "$LOG_FILE" 2>/dev/null &&
            curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            log "ready: $url"
            return
        fi
        if ! running_pid >/dev/null; then
            [[ -f $LOG_FILE ]] && tail -n 40 "$LOG_FILE" >&2
            die "Keycloak is not running (exited or never started); log: $LOG_FILE"
        fi
        sleep 0.5
    done
    [[ -f $LOG_FILE ]] && tail -n 40 "$LOG_FILE" >&2
    die "not ready after ${WAIT_TIMEOUT}s: $url (log: $LOG_FILE)"
}

cmd_stop() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$PID_FILE"
        log "not running on port $PORT"
        return
    fi
    # The pid is also the process group id (setsid): signal the whole group.
    kill -TERM -- "-$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 60; i++)); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 -- "-$pid" 2>/dev/null; then
        log "still alive after 30s, sending KILL"
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    log "stopped (pid $pid)"
}

cmd_status() {
    local pid
    if pid=$(running_pid); then
        echo "running on port $PORT (pid $pid), log $LOG_FILE"
    else
        echo "not running on port $PORT"
        return 3
    fi
}

cmd_run() {
    port_in_use && die "port $PORT is already in use: set KC_PORT"
    setup_env
    ensure_built
    prepare_data
    local -a args
    mapfile -t args < <(server_args)
    exec "$KC_HOME/bin/kc.sh" "${args[@]}" "$@"
}

usage() {
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    [[ $MODE == optimized || $MODE == dev ]] || die "KC_MODE must be 'optimized' or 'dev', not '$MODE'"
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    [[ ${1:-} == -- ]] && shift
    case $cmd in
    fetch) cmd_fetch ;;
    start) cmd_start "$@" ;;
    wait) cmd_wait ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    run) cmd_run "$@" ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
