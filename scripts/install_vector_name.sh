#!/usr/bin/env bash
# Installs hnsw_pg under pgvector's extension name as well: vector.control (made from
# sql/vector.control.in: a second .control file in the crate root would make cargo-pgrx
# build and install the extension as `vector`) and a copy of every hnsw_pg--*.sql script
# as vector--*.sql, beside the installed hnsw_pg files (run after `make install`).
# Refuses to replace a vector.control that is not ours (pgvector's), unless FORCE=1.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
dir="$($PG_CONFIG --sharedir)/extension"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [ ! -f "$dir/hnsw_pg--$version.sql" ]; then
  echo "install_vector_name: $dir/hnsw_pg--$version.sql is missing: run make install first" >&2
  exit 1
fi
if [ -f "$dir/vector.control" ] && ! grep -q "hnsw_pg" "$dir/vector.control" && [ "${FORCE:-0}" != 1 ]; then
  echo "install_vector_name: $dir/vector.control is another extension's (pgvector's?); FORCE=1 replaces it" >&2
  exit 1
fi
sed "s/@CARGO_VERSION@/$version/" sql/vector.control.in > "$dir/vector.control"
for script in "$dir"/hnsw_pg--*.sql; do
  cp "$script" "$dir/vector--${script##*/hnsw_pg--}"
done
echo "install_vector_name: CREATE EXTENSION vector now creates hnsw_pg $version"
