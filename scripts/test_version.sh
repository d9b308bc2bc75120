#!/usr/bin/env bash
# The pg_regress suite on another PostgreSQL major version (scripts/pg_server.sh):
# hnsw_pg built for it in a target directory of its own (so the 15 build's artifacts
# stay), installed into that server, and run by an unprivileged user as the 15 suite is.
# Usage: test_version.sh 16|18
set -euo pipefail
major=${1:?major version: 16 or 18}
pgc=$(bash scripts/pg_server.sh "$major")
CARGO_TARGET_DIR=target/pg$major cargo pgrx install --release --pg-config "$pgc" \
  --no-default-features --features "pg$major"
PG_CONFIG=$pgc REGRESS_PORT=$((55480 + major)) REGRESS_DIR=/tmp/hnsw_pg-regress$major \
  bash scripts/regress.sh
