#!/usr/bin/env bash
# Each version's binary package (scripts/package.sh) installed without Rust and used:
# for 16, 17 and 18 into a copy of that server with hnsw_pg's files removed (the servers
# are relocatable, so the copy runs from where it is), for 15 into Debian's server itself
# (its paths are fixed; `make install` put the same files there). install.sh must refuse
# a server of another major version. Then tests/package runs on a cluster of that server.
# Usage: test_package.sh 15|16|17|18   (hnsw_pg already built for it: make install or
# scripts/install_version.sh)
set -euo pipefail
major=${1:?major version: 15 to 18}
tarball=$(bash scripts/package.sh "$major" | tail -n 1)
work=/tmp/hnsw_pg-package-$major
rm -rf "$work" && mkdir -p "$work"
tar xzf "$tarball" -C "$work"
unpacked=$work/$(basename "$tarball" .tar.gz)
if [ "$major" = 15 ]; then
  pgc=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
  other=$(bash scripts/pg_server.sh 18)
else
  # The server's whole directory under PG_SERVER_ROOT: a wheel keeps the libraries its
  # programs load (libpq...) beside the installation, found relative to them.
  source=$(bash scripts/pg_server.sh "$major")
  root=${PG_SERVER_ROOT:-/opt/hnsw_pg}
  top=${source#"$root"/}; top=${top%%/*}
  cp -a "$root/$top" "$work/server"
  pgc=$work/server/${source#"$root/$top"/}
  rm -f "$("$pgc" --pkglibdir)/hnsw_pg.so" "$("$pgc" --sharedir)"/extension/hnsw_pg*
  other=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
fi
if "$unpacked/install.sh" "$other" 2>"$work/refused.txt"; then
  echo "test_package.sh: the PostgreSQL $major package installed into $("$other" --version)" >&2
  exit 1
fi
grep -q "this package is for PostgreSQL $major" "$work/refused.txt"
"$unpacked/install.sh" "$pgc"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
HNSW_PG_PACKAGE_VERSION=$version HNSW_PG_PACKAGE_LIBDIR=$("$pgc" --pkglibdir) \
  PG_BIN=$("$pgc" --bindir) bash scripts/with_cluster.sh $((55460 + major)) \
  "$(bash scripts/pyenv.sh)" -m pytest -q tests/package
rm -rf "$work"
