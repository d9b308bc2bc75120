"""Crash recovery: an index built, then changed by inserts and VACUUM, survives an
immediate shutdown (no checkpoint); after WAL replay every committed row is found through
the index and the index keeps taking inserts."""

import os
import subprocess

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"


def pg_ctl(*args):
    cluster = os.environ["HNSW_PG_CLUSTER_DIR"]
    runas = os.environ.get("RUNAS", "postgres")
    command = [PG_CTL, "-D", f"{cluster}/data", "-w", *args]
    if os.geteuid() == 0:
        command = ["sudo", "-u", runas, *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def restart_after_crash():
    cluster = os.environ["HNSW_PG_CLUSTER_DIR"]
    pg_ctl("-m", "immediate", "stop")
    pg_ctl("-l", f"{cluster}/server.log", "start",
           "-o", f"-p {os.environ['PGPORT']} -k {cluster} -c listen_addresses=127.0.0.1")


def reachable(conn, table, dim):
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET hnsw.ef_search = 1000")
    conn.execute("SET hnsw.max_scan_tuples = 1000000")
    return {row[0] for row in conn.execute(
        f"SELECT id FROM {table} ORDER BY v <-> %s LIMIT 100000", (np.zeros(dim, np.float32),)
    ).fetchall()}


def test_index_survives_an_immediate_shutdown():
    dim = 12
    rng = np.random.default_rng(5)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("CHECKPOINT")
        c.execute("DROP TABLE IF EXISTS crash")
        c.execute(f"CREATE TABLE crash (id int PRIMARY KEY, v vector({dim}))")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO crash VALUES (%s, %s)",
                            [(i, v) for i, v in enumerate(rng.standard_normal((1500, dim)).astype(np.float32))])
        c.execute("CREATE INDEX crash_v ON crash USING hnsw (v)")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO crash VALUES (%s, %s)",
                            [(1500 + i, v) for i, v in enumerate(rng.standard_normal((1500, dim)).astype(np.float32))])
        c.execute("DELETE FROM crash WHERE id % 10 = 0")
        c.execute("VACUUM crash")
    # An insert still uncommitted when the server dies must not be there afterwards.
    open_transaction = psycopg.connect()
    register_vector(open_transaction)
    open_transaction.execute("INSERT INTO crash VALUES (9999, %s)", (np.ones(dim, np.float32),))
    restart_after_crash()
    open_transaction.close()
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        expected = {row[0] for row in c.execute("SELECT id FROM crash").fetchall()}
        assert len(expected) == 2700 and 9999 not in expected
        assert reachable(c, "crash", dim) == expected
        c.execute("INSERT INTO crash VALUES (10000, %s)", (np.full(dim, 0.5, np.float32),))
        nearest = c.execute("SELECT id FROM crash ORDER BY v <-> %s LIMIT 1",
                            (np.full(dim, 0.5, np.float32),)).fetchone()[0]
        assert nearest == 10000
