#!/usr/bin/env bash
# Installs what building and testing hnsw_pg needs on Debian 12, skipping what is present:
# PostgreSQL 15 and its server headers, clang/libclang (bindgen), sudo (to run Postgres as
# an unprivileged user), cargo-pgrx at the pinned version, and pgrx's pointer to PG15.
set -euo pipefail
PGRX_VERSION=0.18.1
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
say() { echo "== setup: $*"; }

packages="postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo pkg-config build-essential python3-venv python3-dev"
missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  say "apt-get install $missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ "$(cargo pgrx --version 2>/dev/null || true)" != "cargo-pgrx $PGRX_VERSION" ]; then
  say "cargo install cargo-pgrx $PGRX_VERSION (about 10 minutes)"
  cargo install cargo-pgrx --version "=$PGRX_VERSION" --locked
fi

if ! grep -qs "pg15 = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
  say "cargo pgrx init --pg15 $PG_CONFIG"
  cargo pgrx init --pg15 "$PG_CONFIG"
fi
say "ok"
