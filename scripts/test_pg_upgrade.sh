#!/usr/bin/env bash
# pg_upgrade from the local PostgreSQL 15 to 18 (tests/pg_upgrade), with hnsw_pg
# installed in both (`make install` and scripts/test_version.sh 18 do that).
set -euo pipefail
new=$(bash scripts/pg_server.sh 18)
OLD_BIN=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir) NEW_BIN=$("$new" --bindir) \
  "$(bash scripts/pyenv.sh)" -m pytest -q tests/pg_upgrade
