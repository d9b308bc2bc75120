#!/usr/bin/env bash
# Starts a throwaway cluster on PORT, creates database hnsw_pg_demo with the extension,
# runs PYTHON ARGS... with PGHOST/PGPORT/PGDATABASE set, then stops and removes the cluster.
# The server is the local PostgreSQL 15 unless PG_BIN names another bin directory.
# Usage: with_cluster.sh PORT PYTHON ARGS...
set -euo pipefail
port=${1:?port}; shift
dir=/tmp/hnsw_pg-cluster-$port
bash scripts/pgcluster.sh stop "$dir"
bash scripts/pgcluster.sh start "$dir" "$port"
trap 'bash scripts/pgcluster.sh stop "$dir"' EXIT
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=hnsw_pg_demo
# For tests that stop and restart the server (crash recovery).
export HNSW_PG_CLUSTER_DIR=$dir
psql=${PG_BIN:-/usr/lib/postgresql/15/bin}/psql
"$psql" -q -d postgres -c "CREATE DATABASE hnsw_pg_demo"
"$psql" -q -c "CREATE EXTENSION hnsw_pg"
"$@"
