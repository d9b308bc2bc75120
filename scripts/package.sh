#!/usr/bin/env bash
# A binary package of hnsw_pg for one PostgreSQL major version, installable without Rust:
# target/package/hnsw_pg-VERSION-pgN-x86_64-linux.tar.gz, holding what `cargo pgrx package`
# builds (the shared library, the control file, the install and upgrade scripts), laid
# out by kind rather than by this machine's paths, and an install.sh that copies them
# where the target server's pg_config says.
# Usage: package.sh 15|16|17|18
set -euo pipefail
major=${1:?major version: 15 to 18}
if [ "$major" = 15 ]; then
  pgc=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
  target=target
else
  pgc=$(bash scripts/pg_server.sh "$major")
  target=target/pg$major
fi
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
built=$(pwd)/$target/package-build
rm -rf "$built"
CARGO_TARGET_DIR=$target cargo pgrx package --pg-config "$pgc" --out-dir "$built" \
  --no-default-features --features "pg$major"
name=hnsw_pg-$version-pg$major-x86_64-linux
stage=$(pwd)/target/package/$name
rm -rf "$stage" && mkdir -p "$stage/lib" "$stage/extension"
cp "$built$("$pgc" --pkglibdir)/hnsw_pg.so" "$stage/lib/"
cp "$built$("$pgc" --sharedir)/extension/"hnsw_pg* "$stage/extension/"
cat > "$stage/install.sh" <<INSTALL
#!/bin/sh
# Installs hnsw_pg $version into the PostgreSQL $major server whose pg_config is given (or
# found on PATH). Run as a user who may write to its directories (usually root).
set -eu
pg_config=\${1:-pg_config}
here=\$(cd "\$(dirname "\$0")" && pwd)
"\$pg_config" --version | grep -q "PostgreSQL $major\\." || {
  echo "install.sh: this package is for PostgreSQL $major; \$pg_config is \$("\$pg_config" --version)" >&2; exit 1; }
install -m 755 "\$here/lib/hnsw_pg.so" "\$("\$pg_config" --pkglibdir)/"
install -m 644 "\$here"/extension/* "\$("\$pg_config" --sharedir)/extension/"
echo "hnsw_pg $version installed; in a database: CREATE EXTENSION hnsw_pg;"
INSTALL
chmod 755 "$stage/install.sh"
tar czf "target/package/$name.tar.gz" -C target/package "$name"
rm -rf "$stage" "$built"
echo "target/package/$name.tar.gz"
