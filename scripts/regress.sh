#!/usr/bin/env bash
# Runs the pg_regress suite against the installed extension, with a temporary instance
# run by an unprivileged user. setup.sql (CREATE EXTENSION) runs first. The server runs with
# RUST_BACKTRACE=1 in its environment, so a Rust backtrace in any message would show.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
RUNAS=${RUNAS:-postgres}
PORT=${REGRESS_PORT:-55491}
PGREGRESS=$(dirname "$($PG_CONFIG --pgxs)")/../test/regress/pg_regress
REG=${REGRESS_DIR:-/tmp/hnsw_pg-regress}
rm -rf "$REG"; install -d -o "$RUNAS" -g "$RUNAS" "$REG"
cp -r tests/pg_regress/sql tests/pg_regress/expected "$REG"/
chown -R "$RUNAS:$RUNAS" "$REG"
tests="setup $(cd "$REG/sql" && ls *.sql | sed 's/\.sql$//' | grep -vx setup | sort | tr '\n' ' ')"
cd "$REG"
if sudo -u "$RUNAS" env RUST_BACKTRACE=1 "$PGREGRESS" --temp-instance="$REG/tmp_check" --bindir="$($PG_CONFIG --bindir)" \
     --port="$PORT" --inputdir="$REG" --outputdir="$REG" --dbname=hnsw_pg_regress $tests; then
  exit 0
fi
cat "$REG/regression.diffs" 2>/dev/null || true
exit 1
