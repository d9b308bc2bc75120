#!/usr/bin/env bash
# The benchmark (bench/run.py) in a throwaway cluster of PostgreSQL MAJOR on PORT. Where
# the server carries pgvector (18's does, 0.8.6), pgvector runs every step beside hnsw_pg
# in a database of its own. For 15, hnsw_pg must already be installed (make install); for
# the other versions this builds and installs it.
# Usage: bench.sh MAJOR PORT RUN_ARGS...
set -euo pipefail
major=${1:?major version}; port=${2:?port}; shift 2
if [ "$major" = 15 ]; then
  pgc=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
else
  pgc=$(bash scripts/install_version.sh "$major")
fi
args=()
control=$("$pgc" --sharedir)/extension/vector.control
# A vector.control of hnsw_pg's own (make install-vector) is not pgvector.
if [ -f "$control" ] && ! grep -q hnsw_pg "$control"; then
  args=(--pgvector pgvector_bench)
fi
# Room in shared buffers for both engines' tables and indexes.
PG_BIN=$("$pgc" --bindir) PGCLUSTER_OPTS="-c shared_buffers=2GB ${PGCLUSTER_OPTS:-}" \
  bash scripts/with_cluster.sh "$port" "$(bash bench/benchenv.sh)" bench/run.py "${args[@]}" "$@"
