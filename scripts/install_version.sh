#!/usr/bin/env bash
# hnsw_pg built for PostgreSQL 16, 17 or 18 (its server from scripts/pg_server.sh) in a
# target directory of its own (so the 15 build's artifacts stay) and installed into that
# server. Prints the server's pg_config.
# Usage: install_version.sh 16|17|18
set -euo pipefail
major=${1:?major version: 16, 17 or 18}
pgc=$(bash scripts/pg_server.sh "$major")
CARGO_TARGET_DIR=target/pg$major cargo pgrx install --release --pg-config "$pgc" \
  --no-default-features --features "pg$major" >&2
echo "$pgc"
