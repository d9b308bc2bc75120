#!/usr/bin/env bash
# The pg_regress suite, the client smoke test and the shard tests on another PostgreSQL
# major version
# (scripts/pg_server.sh):
# hnsw_pg built for it and installed into that server (scripts/install_version.sh), and run
# by an unprivileged user as the 15 suite is.
# Usage: test_version.sh 16|17|18
set -euo pipefail
major=${1:?major version: 16, 17 or 18}
pgc=$(bash scripts/install_version.sh "$major")
PG_CONFIG=$pgc REGRESS_PORT=$((55480 + major)) REGRESS_DIR=/tmp/hnsw_pg-regress$major \
  bash scripts/regress.sh
# The client smoke test (build, scan, inserts, VACUUM, a crash) on that server, and the
# shard tests where it ships postgres_fdw (17 and 18).
tests=(tests/client/test_version_smoke.py)
if [ -f "$("$pgc" --sharedir)/extension/postgres_fdw.control" ]; then
  tests+=(tests/client/test_shards.py)
fi
PG_BIN=$("$pgc" --bindir) bash scripts/with_cluster.sh $((55490 + major)) "$(bash scripts/pyenv.sh)" \
  -m pytest -q "${tests[@]}"
