#!/usr/bin/env bash
# The pg_regress suite on PostgreSQL 18 (scripts/pg18.sh): hnsw_pg built for 18 in a
# target directory of its own (so the 15 build's artifacts stay), installed into that
# server, and run by an unprivileged user like the 15 suite.
set -euo pipefail
pgc=$(bash scripts/pg18.sh)
CARGO_TARGET_DIR=target/pg18 cargo pgrx install --release --pg-config "$pgc" \
  --no-default-features --features pg18
PG_CONFIG=$pgc REGRESS_PORT=55492 REGRESS_DIR=/tmp/hnsw_pg-regress18 bash scripts/regress.sh
