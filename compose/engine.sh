#!/usr/bin/env bash
# A Docker engine for the compose tier and the container test runs.
#
#   compose/engine.sh start    print the DOCKER_HOST to use ("" = the machine's default)
#   compose/engine.sh stop     stop the engine `start` started, restore what it changed
#   compose/engine.sh status
#
# The machine's engine is used when one answers (`docker info`); it is never stopped.
# Otherwise the engine is Debian's docker.io (installed with apt-get when missing, as
# root), started by hand (no systemd needed) with everything of its own: data root
# .cache/compose/docker/ in this checkout (images and build cache survive between runs;
# TODO_COMPOSE_CACHE moves .cache/compose elsewhere), socket,
# exec root and pid file under /run/todo-oidc-engine/. It never touches
# /var/lib/docker or /var/run/docker.sock.
#
# dockerd changes machine-wide state: iptables rules (NAT for the containers' way out,
# the FORWARD policy), net.ipv4.ip_forward, the docker0 bridge. A supervisor process
# records that state before dockerd starts and restores it when dockerd exits, however
# it exits; a lock makes it one such engine on the machine at a time (another checkout's
# run waits for it). A supervisor killed before it could restore leaves its record, and
# the next start restores it first.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly SELF=$REPO_ROOT/compose/engine.sh
readonly RUN_DIR=/run/todo-oidc-engine
readonly SOCKET=$RUN_DIR/docker.sock
readonly CACHE_DIR=${TODO_COMPOSE_CACHE:-$REPO_ROOT/.cache/compose}
readonly DATA_ROOT=$CACHE_DIR/docker
readonly LOG=$CACHE_DIR/dockerd.log
readonly RECORD=$RUN_DIR/before # what dockerd will change, as it was
# Seconds `start` waits for another checkout's engine to finish (its tier or image build).
readonly LOCK_WAIT=${TODO_ENGINE_LOCK_WAIT:-1200}
readonly SYSCTLS=(net.ipv4.ip_forward net.ipv6.conf.all.forwarding
    net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)

die() {
    echo "engine: $*" >&2
    exit 1
}

log() {
    echo "engine: $*" >&2
}

own_engine_answers() {
    DOCKER_HOST=unix://$SOCKET timeout 10 docker info --format '{{.DockerRootDir}}' 2>/dev/null
}

install_engine() {
    command -v dockerd >/dev/null && return
    [[ $(id -u) -eq 0 ]] ||
        die "no Docker engine answers and dockerd is not installed: start one, or run as root so that Debian's docker.io can be installed"
    log "installing Debian's docker.io (engine, containerd, runc, iptables)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io >/dev/null; } ||
        die "apt-get install docker.io failed"
    # Its init script must not start a machine-wide engine: dpkg asks policy-rc.d, and a
    # machine without systemd (containers, CI VMs) usually has one that says no. Where an
    # engine was started anyway, it is the machine's from now on, and is used as such.
}

# -- the supervisor: record, run dockerd, restore ------------------------------------

record_state() {
    mkdir -p "$RECORD"
    iptables-save >"$RECORD/iptables" 2>/dev/null || : >"$RECORD/iptables"
    local key
    for key in "${SYSCTLS[@]}"; do
        [[ -e /proc/sys/${key//.//} ]] && echo "$key=$(sysctl -n "$key")"
    done >"$RECORD/sysctl"
    ip -o link show type bridge | awk -F': ' '{print $2}' >"$RECORD/bridges"
    touch "$RECORD/complete"
}

restore_state() {
    [[ -f $RECORD/complete ]] || {
        rm -rf "$RECORD"
        return
    }
    local table chain line name
    # Tables dockerd created from nothing are emptied (their built-in chains back to
    # ACCEPT); tables that existed are restored as they were, rule for rule.
    for table in filter nat; do
        grep -qx "\*$table" "$RECORD/iptables" && continue
        iptables -t "$table" -S >/dev/null 2>&1 || continue
        iptables -t "$table" -F
        iptables -t "$table" -X
        for chain in $(iptables -t "$table" -S | awk '$1 == "-P" {print $2}'); do
            iptables -t "$table" -P "$chain" ACCEPT
        done
    done
    [[ -s $RECORD/iptables ]] && iptables-restore <"$RECORD/iptables"
    while IFS= read -r line; do
        sysctl -q -w "$line" >/dev/null
    done <"$RECORD/sysctl"
    while IFS= read -r name; do
        grep -qx "$name" "$RECORD/bridges" || ip link delete "$name" 2>/dev/null || true
    done < <(ip -o link show type bridge | awk -F': ' '{print $2}')
    rm -rf "$RECORD"
}

supervise() {
    local requester=$1
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/lock"
    flock -w "$LOCK_WAIT" 9 || die "another checkout's engine held $RUN_DIR/lock for ${LOCK_WAIT}s"
    # The `start` that asked for this engine may have been killed while the lock was
    # held elsewhere: then nobody would use or stop the engine.
    if ! kill -0 "$requester" 2>/dev/null; then
        log "the start that asked for an engine is gone: not starting one"
        return
    fi
    if [[ -d $RECORD ]]; then
        log "restoring the state recorded by a supervisor that did not finish"
        restore_state
    fi
    record_state
    echo "$$" >"$RUN_DIR/supervisor.pid"
    echo "$DATA_ROOT" >"$RUN_DIR/data-root"
    mkdir -p "$DATA_ROOT"
    local status=0
    dockerd --data-root "$DATA_ROOT" --exec-root "$RUN_DIR/exec" \
        --pidfile "$RUN_DIR/dockerd.pid" --host "unix://$SOCKET" &
    local dockerd_pid=$!
    trap 'kill -TERM "$dockerd_pid" 2>/dev/null' TERM INT
    wait "$dockerd_pid" || status=$?
    # `wait` returns early when a trapped signal arrives: wait for dockerd itself.
    while kill -0 "$dockerd_pid" 2>/dev/null; do sleep 0.2; done
    restore_state
    rm -f "$RUN_DIR/supervisor.pid" "$RUN_DIR/data-root" "$SOCKET"
    log "dockerd exited ($status); firewall, forwarding and bridges restored"
}

# -- commands ------------------------------------------------------------------------

supervisor_pid() {
    local pid
    pid=$(cat "$RUN_DIR/supervisor.pid" 2>/dev/null) || return 1
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
    # The machine's engine (or DOCKER_HOST's), when one answers.
    if [[ -z ${TODO_ENGINE_OWN:-} ]] && timeout 10 docker info >/dev/null 2>&1; then
        echo "${DOCKER_HOST:-}"
        return
    fi
    install_engine
    local root
    if root=$(own_engine_answers) && [[ $root == "$DATA_ROOT" ]]; then
        echo "unix://$SOCKET"
        return
    fi
    [[ $(id -u) -eq 0 ]] || die "starting an engine of our own needs root (iptables, bridges)"
    mkdir -p "$(dirname "$LOG")" "$RUN_DIR"
    setsid "$SELF" supervise "$$" >>"$LOG" 2>&1 </dev/null &
    local supervisor=$! deadline=$((SECONDS + LOCK_WAIT + 60))
    until root=$(own_engine_answers) && [[ $root == "$DATA_ROOT" ]]; do
        if ((SECONDS >= deadline)) || ! kill -0 "$supervisor" 2>/dev/null; then
            # Not left waiting for the lock, to start an engine nobody would stop.
            kill -TERM "$supervisor" 2>/dev/null || true
            die "dockerd did not answer on $SOCKET; its log, $LOG:
$(tail -n 30 "$LOG")"
        fi
        sleep 0.3
    done
    log "dockerd $(DOCKER_HOST=unix://$SOCKET docker version --format '{{.Server.Version}}') on $SOCKET, data root $DATA_ROOT"
    echo "unix://$SOCKET"
}

stop() {
    local pid data_root
    pid=$(supervisor_pid) || return 0
    data_root=$(cat "$RUN_DIR/data-root" 2>/dev/null || true)
    # Another checkout's engine is not ours to stop.
    [[ $data_root == "$DATA_ROOT" ]] || return 0
    kill -TERM "$pid"
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || die "the engine's supervisor ($pid) did not exit within 60 s"
        sleep 0.2
    done
}

status() {
    local pid
    if pid=$(supervisor_pid); then
        echo "own engine: supervisor $pid, data root $(cat "$RUN_DIR/data-root"), socket $SOCKET"
    elif timeout 10 docker info >/dev/null 2>&1; then
        echo "the machine's engine answers (${DOCKER_HOST:-default socket})"
    else
        echo "no engine"
    fi
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
supervise) supervise "$2" ;;
*) die "usage: $0 start|stop|status" ;;
esac
