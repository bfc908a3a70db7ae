#!/usr/bin/env bash
# The one command of the benchmarks: bash bench/run.sh [--quick] [--only SECTIONS]
# Installs what only the benchmarks need, outside the project's dependencies: wrk and
# PostgreSQL from Debian, the peer's npm packages from its lock file, py-spy in
# bench/.venv. Then runs every section side by side and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "bench: $1 is missing; install it (apt-get install -y $2)" >&2
        exit 2
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
command -v wrk >/dev/null || apt_install wrk wrk
command -v initdb >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_install initdb postgresql
[ -x .venv/bin/python ] || uv sync --frozen
if [ ! -x bench/.venv/bin/py-spy ]; then
    .venv/bin/python -m venv bench/.venv
    bench/.venv/bin/pip install --quiet py-spy
fi
if [ ! bench/peer/node_modules/.package-lock.json -nt bench/peer/package-lock.json ]; then
    (cd bench/peer && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
exec .venv/bin/python -m bench "$@"
