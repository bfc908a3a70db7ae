#!/usr/bin/env bash
# Prints the path of a Docker Compose v2 CLI plugin, building one when the machine has none.
#
#   compose/compose-plugin.sh
#
# The machine's own plugin is used when `docker compose version` answers v2 or later.
# Otherwise Compose is built from its Go module (github.com/docker/compose/v5, pinned
# below) into .cache/compose/cli-plugins/docker-compose (TODO_COMPOSE_CACHE moves
# .cache/compose), once. Debian's docker-compose 1.29
# is no substitute: it refuses the compose file's top-level `name:`. `go install
# module@version` refuses this module (its go.mod has exclude directives), so the module
# is downloaded and `./cmd` built inside it, as its own Makefile does.
set -euo pipefail

readonly COMPOSE_MODULE=github.com/docker/compose/v5
readonly COMPOSE_VERSION=v5.6.0

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly PLUGIN_DIR=${TODO_COMPOSE_CACHE:-$REPO_ROOT/.cache/compose}/cli-plugins
readonly PLUGIN=$PLUGIN_DIR/docker-compose

die() {
    echo "compose-plugin: $*" >&2
    exit 1
}

# The machine's plugin, when it is v2 or later (v1 cannot read the file).
if machine_version=$(docker compose version --short 2>/dev/null) &&
    [[ $machine_version =~ ^v?([2-9]|[1-9][0-9]+)\. ]]; then
    echo machine
    exit 0
fi

if [[ -x $PLUGIN ]] && [[ $("$PLUGIN" version --short 2>/dev/null) == "${COMPOSE_VERSION#v}" ]]; then
    echo "$PLUGIN"
    exit 0
fi

go=$(command -v go || echo /usr/local/go/bin/go)
[[ -x $go ]] || die "no compose v2 plugin on this machine and no Go to build one: install Go (the version in $COMPOSE_MODULE@$COMPOSE_VERSION's go.mod) or a compose v2 plugin"

echo "compose-plugin: building $COMPOSE_MODULE@$COMPOSE_VERSION with $("$go" version)" >&2
module_dir=$("$go" mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d $module_dir ]] || die "go mod download $COMPOSE_MODULE@$COMPOSE_VERSION gave no module directory"
mkdir -p "$PLUGIN_DIR"
# Inside the (read-only) module directory the module is the main module, its go.sum
# verifies every dependency and its exclude directives apply.
(cd "$module_dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly "$go" build -trimpath \
    -ldflags "-w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION" \
    -o "$PLUGIN.tmp" ./cmd)
mv "$PLUGIN.tmp" "$PLUGIN"
echo "$PLUGIN"
