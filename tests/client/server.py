"""The server under test: its programs (PG_BIN, the local PostgreSQL 15 unless a
version's smoke run names another), its cluster (HNSW_PG_CLUSTER_DIR, set by
conftest.own_cluster) for tests that stop and crash it, and databases of their own."""

import contextlib
import os
import subprocess

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def pg_ctl(*args, cluster=None):
    """pg_ctl on `cluster` (a directory conftest.own_cluster made), by default the one
    HNSW_PG_CLUSTER_DIR names."""
    cluster = cluster or os.environ["HNSW_PG_CLUSTER_DIR"]
    runas = os.environ.get("RUNAS", "postgres")
    command = [f"{PG_BIN}/pg_ctl", "-D", f"{cluster}/data", "-w", *args]
    if os.geteuid() == 0:
        command = ["sudo", "-u", runas, *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def restart_after_crash():
    """An immediate shutdown (no checkpoint: recovery replays the WAL), then a start."""
    cluster = os.environ["HNSW_PG_CLUSTER_DIR"]
    pg_ctl("-m", "immediate", "stop")
    pg_ctl("-l", f"{cluster}/server.log", "start",
           "-o", f"-p {os.environ['PGPORT']} -k {cluster} -c listen_addresses=127.0.0.1")


def crash_during_insert(table, row_id, dim):
    """The server dies (immediate shutdown) while an insert into `table` of `row_id` is
    still uncommitted, and comes back."""
    open_transaction = psycopg.connect()
    register_vector(open_transaction)
    open_transaction.execute(f"INSERT INTO {table} VALUES (%s, %s)", (row_id, np.ones(dim, np.float32)))
    restart_after_crash()
    open_transaction.close()


def reachable(conn, table, dim, column="v", operator="<->"):
    """The ids the index on `column` returns when asked for every row, ordered by
    `operator` (its operator class's: `<=>` for a cosine index); fails unless the plan
    reads it through index scans alone. Changes the session's settings."""
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET hnsw.ef_search = 1000")
    conn.execute("SET hnsw.max_scan_tuples = 1000000")
    sql = f"SELECT id FROM {table} ORDER BY {column} {operator} %s LIMIT 100000"
    query = np.ones(dim, np.float32)
    plan = [r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + sql, (query,)).fetchall()]
    assert any("Index Scan" in line for line in plan) and not any("Seq Scan" in line for line in plan), plan
    return {row[0] for row in conn.execute(sql, (query,)).fetchall()}


@contextlib.contextmanager
def fresh_database(name):
    """A database of its own on the shared cluster, dropped afterwards; yields a connection."""
    with psycopg.connect(dbname="postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(dbname=name, autocommit=True) as c:
            yield c
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
