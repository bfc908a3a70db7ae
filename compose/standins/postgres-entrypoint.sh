#!/bin/sh
# The part of the postgres image's entrypoint that the compose file relies on: on an
# empty data directory, a cluster whose superuser is POSTGRES_USER with POSTGRES_PASSWORD
# (scram-sha-256 over TCP, trust on the local socket) and a database POSTGRES_DB; then
# the server, listening on every interface of the container.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"

if [ "${1:-}" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres stand-in: POSTGRES_PASSWORD is not set" >&2
        exit 1
    fi
    password_file=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
    initdb --username="$POSTGRES_USER" --pwfile="$password_file" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        database=$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')
        echo "CREATE DATABASE \"$database\";" |
            postgres --single -j -D "$PGDATA" postgres >/dev/null
    fi
    echo "postgres stand-in: cluster created (user $POSTGRES_USER, database $POSTGRES_DB)"
fi

if [ "${1:-}" = postgres ]; then
    exec "$@" -c listen_addresses='*'
fi
exec "$@"
