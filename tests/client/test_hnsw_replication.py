"""Streaming replication with WAL consistency checking: a hot standby attached before the
index exists replays its build, inserts, deletes and VACUUMs, comparing every replayed
generic-WAL page with the primary's full image (wal_consistency_checking = 'generic'; a
mismatch stops the standby), and answers k-NN queries exactly as the primary does."""

import os
import pathlib
import shutil
import subprocess
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

BIN = "/usr/lib/postgresql/15/bin"
DIM = 10
ROUNDS = 5


def as_postgres(*command, check=True):
    runas = os.environ.get("RUNAS", "postgres")
    prefix = ["sudo", "-u", runas] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=check, stdout=subprocess.DEVNULL)


def knn(conn, queries):
    conn.execute("SET enable_seqscan = off")
    return [
        [row[0] for row in conn.execute("SELECT id FROM rep ORDER BY v <-> %s LIMIT 10", (q,)).fetchall()]
        for q in queries
    ]


def test_standby_replays_and_matches_the_primary():
    primary_port = int(os.environ["PGPORT"])
    standby_port = primary_port + 100
    standby = pathlib.Path(os.environ["HNSW_PG_CLUSTER_DIR"] + "-standby")
    shutil.rmtree(standby, ignore_errors=True)
    rng = np.random.default_rng(11)
    queries = rng.standard_normal((20, DIM)).astype(np.float32)
    with psycopg.connect(autocommit=True) as primary:
        register_vector(primary)
        primary.execute("ALTER SYSTEM SET wal_consistency_checking = 'generic'")
        primary.execute("SELECT pg_reload_conf()")
        primary.execute("DROP TABLE IF EXISTS rep")
        primary.execute(f"CREATE TABLE rep (id int PRIMARY KEY, v vector({DIM}))")
        primary.execute("CHECKPOINT")
        as_postgres("mkdir", "-p", str(standby))
        as_postgres(f"{BIN}/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
                    "-D", str(standby / "data"), "-R", "-X", "stream")
        as_postgres(f"{BIN}/pg_ctl", "-D", str(standby / "data"), "-l", str(standby / "server.log"), "-w",
                    "start", "-o", f"-p {standby_port} -k {standby} -c listen_addresses=127.0.0.1 -c hot_standby=on")
        try:
            with psycopg.connect(port=standby_port, autocommit=True) as replica:
                register_vector(replica)
                next_id = 0
                for round_ in range(ROUNDS):
                    rows = rng.standard_normal((400, DIM)).astype(np.float32)
                    with primary.cursor() as cur:
                        cur.executemany("INSERT INTO rep VALUES (%s, %s)",
                                        [(next_id + i, v) for i, v in enumerate(rows)])
                    next_id += len(rows)
                    if round_ == 0:
                        primary.execute("CREATE INDEX rep_v ON rep USING hnsw (v)")
                    primary.execute("DELETE FROM rep WHERE id %% 7 = %s", (round_,))
                    primary.execute("VACUUM rep")
                    lsn = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
                    deadline = time.monotonic() + 60
                    while replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0] is not True:
                        assert time.monotonic() < deadline, "the standby did not catch up"
                        time.sleep(0.05)
                    assert replica.execute("SELECT 1").fetchone()[0] == 1
                    assert knn(replica, queries) == knn(primary, queries), f"round {round_}"
            # Read before stopping: a normal shutdown logs a FATAL for the WAL receiver.
            log = (standby / "server.log").read_text()
        finally:
            as_postgres(f"{BIN}/pg_ctl", "-D", str(standby / "data"), "-m", "fast", "-w", "stop", check=False)
            shutil.rmtree(standby, ignore_errors=True)
            primary.execute("ALTER SYSTEM RESET wal_consistency_checking")
            primary.execute("SELECT pg_reload_conf()")
        assert "FATAL" not in log and "PANIC" not in log and "inconsistent page" not in log, log[-2000:]
        assert "consistent recovery state reached" in log, log[-2000:]
