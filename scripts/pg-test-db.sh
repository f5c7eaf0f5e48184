#!/bin/sh
# Start a throwaway PostgreSQL (Debian's packages) on 127.0.0.1 for the CRM tests and print
#   export CRM_TEST_DATABASE_URL=postgresql+asyncpg://...
# Usage: eval "$(sh scripts/pg-test-db.sh)"      (stop: sh scripts/pg-test-db.sh stop)
set -eu
DIR=${DIALCRM_PG_DIR:-/tmp/dialcrm-pg}
PORT=${DIALCRM_PG_PORT:-55432}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$BIN" ] || { echo "pg-test-db: PostgreSQL is not installed (make setup)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }
if [ "${1:-start}" = stop ]; then
    as_pg "$BIN/pg_ctl -D $DIR/data -m fast stop" >/dev/null 2>&1 || true
    exit 0
fi
mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
if [ ! -f "$DIR/data/PG_VERSION" ]; then
    as_pg "$BIN/initdb -D $DIR/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >&2
fi
if ! as_pg "$BIN/pg_ctl -D $DIR/data status" >/dev/null 2>&1; then
    as_pg "$BIN/pg_ctl -D $DIR/data -l $DIR/log -w -o '-p $PORT -k $DIR -c listen_addresses=127.0.0.1' start" >&2
fi
as_pg "$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='crm_test'\"" | grep -q 1 \
    || as_pg "$BIN/createdb -h 127.0.0.1 -p $PORT -U postgres crm_test" >&2
echo "export CRM_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:$PORT/crm_test"
