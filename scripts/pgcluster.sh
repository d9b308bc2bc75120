#!/usr/bin/env bash
# A throwaway PostgreSQL cluster (15, or the one in PG_BIN) on 127.0.0.1, run by an unprivileged OS user
# (Postgres refuses root). Usage:
#   pgcluster.sh start DIR PORT   initdb (if needed) and start; socket in DIR
#   pgcluster.sh stop DIR         stop (fast) and remove DIR
# For tests that need an unusual server: PGCLUSTER_ENV (NAME=VALUE words put in the
# postmaster's environment), PGCLUSTER_ULIMIT_V (its address-space limit in kB), and
# PGCLUSTER_OPTS (more server options, after the defaults).
set -euo pipefail
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
RUNAS=${RUNAS:-postgres}
as_user() { if [ "$(id -un)" = "$RUNAS" ]; then "$@"; else sudo -u "$RUNAS" "$@"; fi; }

cmd=${1:?usage: pgcluster.sh start DIR PORT | stop DIR}
dir=${2:?cluster directory}
case "$cmd" in
  start)
    port=${3:?port}
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      install -d -o "$RUNAS" -g "$RUNAS" "$dir"
      as_user "$PG_BIN/initdb" -D "$dir/data" --auth=trust --encoding=UTF8 --locale=C -U postgres >"$dir/initdb.log"
    fi
    limit=${PGCLUSTER_ULIMIT_V:-unlimited}
    # shellcheck disable=SC2086 # PGCLUSTER_ENV is a list of words
    as_user env ${PGCLUSTER_ENV:-} bash -c 'ulimit -v "$0" && exec "$@"' "$limit" \
      "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c max_parallel_workers_per_gather=2 ${PGCLUSTER_OPTS:-}" >/dev/null \
      || { cat "$dir/server.log"; exit 1; }
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_user "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
