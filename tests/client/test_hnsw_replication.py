"""Streaming replication with WAL consistency checking: a hot standby attached before the
index exists replays its build, inserts, deletes and VACUUMs, comparing every replayed
generic-WAL page with the primary's full image (wal_consistency_checking = 'generic'; a
mismatch stops the standby), and answers k-NN queries exactly as the primary does, also
while it replays."""

import contextlib
import os
import pathlib
import shutil
import subprocess
import threading
import time

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector
from tables import format_version

BIN = "/usr/lib/postgresql/15/bin"
DIM = 10
ROUNDS = 5


def as_postgres(*command, check=True):
    runas = os.environ.get("RUNAS", "postgres")
    prefix = ["sudo", "-u", runas] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=check, stdout=subprocess.DEVNULL)


def knn(conn, queries, table="rep"):
    conn.execute("SET enable_seqscan = off")
    return [
        [row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY v <-> %s LIMIT 10", (q,)).fetchall()]
        for q in queries
    ]


@contextlib.contextmanager
def standby(primary, primary_port, name, options=""):
    """A hot standby of the primary, started from a base backup (WAL consistency checking
    on the primary); yields its connection. On leaving, checks that its log shows a
    consistent recovery and no FATAL, PANIC or inconsistent page."""
    standby_port = primary_port + 100
    standby = pathlib.Path(os.environ["HNSW_PG_CLUSTER_DIR"] + "-" + name)
    shutil.rmtree(standby, ignore_errors=True)
    primary.execute("ALTER SYSTEM SET wal_consistency_checking = 'generic'")
    primary.execute("SELECT pg_reload_conf()")
    primary.execute("CHECKPOINT")
    as_postgres("mkdir", "-p", str(standby))
    as_postgres(f"{BIN}/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
                "-D", str(standby / "data"), "-R", "-X", "stream")
    as_postgres(f"{BIN}/pg_ctl", "-D", str(standby / "data"), "-l", str(standby / "server.log"), "-w",
                "start", "-o", f"-p {standby_port} -k {standby} -c listen_addresses=127.0.0.1"
                f" -c hot_standby=on {options}")
    try:
        with psycopg.connect(port=standby_port, autocommit=True) as replica:
            register_vector(replica)
            yield replica
        # Read before stopping: a normal shutdown logs a FATAL for the WAL receiver.
        log = (standby / "server.log").read_text()
    finally:
        as_postgres(f"{BIN}/pg_ctl", "-D", str(standby / "data"), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(standby, ignore_errors=True)
        primary.execute("ALTER SYSTEM RESET wal_consistency_checking")
        primary.execute("SELECT pg_reload_conf()")
    assert "FATAL" not in log and "PANIC" not in log and "inconsistent page" not in log, log[-2000:]
    assert "consistent recovery state reached" in log, log[-2000:]


def catch_up(primary, replica):
    # A VACUUM takes no xid, so its last records (index changes, the in-place update of
    # the table's statistics) can wait in WAL buffers: pg_current_wal_lsn(), the write
    # position, may stop short of them. The target is the end of a record written after
    # them (a non-transactional message, which the standby replays exactly to its end;
    # the insert position may lie past a page header no record ends at). Its transaction
    # commits asynchronously, so the WAL writer flushes it, and the walsender sends it,
    # within wal_writer_delay.
    lsn = primary.execute("SELECT pg_logical_emit_message(false, 'catch_up', '')").fetchone()[0]
    deadline = time.monotonic() + 60
    while replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0] is not True:
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.05)


def insert_rows(conn, table, first_id, rows):
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [(first_id + i, v) for i, v in enumerate(rows)])


@pytest.mark.parametrize("definition", ["(v)", "(v) WITH (quantization = 'sq8')", "(v) WITH (quantization = 'pq')",
                                        "(v) WITH (quantization = 'pq', compact = true)",
                                        "(v vector_l2_ops, id, tag, labels)"])
def test_standby_replays_and_matches_the_primary(definition):
    primary_port = int(os.environ["PGPORT"])
    rng = np.random.default_rng(11)
    queries = rng.standard_normal((20, DIM)).astype(np.float32)
    with psycopg.connect(autocommit=True) as primary:
        register_vector(primary)
        primary.execute("DROP TABLE IF EXISTS rep")
        # No autovacuum: one that runs on the primary between catching up and the two
        # queries (the inserts pass its threshold by the third round) changes the
        # primary's index only, and a compact index's answers can follow that change.
        # tag and labels: a text and an array filter column for the multicolumn index.
        primary.execute(f"CREATE TABLE rep (id int PRIMARY KEY, v vector({DIM}), "
                        "tag text GENERATED ALWAYS AS ('t' || (id % 5)) STORED, "
                        "labels int[] GENERATED ALWAYS AS (ARRAY[id % 3, id % 11]) STORED) "
                        "WITH (autovacuum_enabled = false)")
        with standby(primary, primary_port, "standby") as replica:
            next_id = 0
            for round_ in range(ROUNDS):
                rows = rng.standard_normal((400, DIM)).astype(np.float32)
                insert_rows(primary, "rep", next_id, rows)
                next_id += len(rows)
                if round_ == 0:
                    primary.execute(f"CREATE INDEX rep_v ON rep USING hnsw {definition}")
                primary.execute("DELETE FROM rep WHERE id %% 7 = %s", (round_,))
                primary.execute("VACUUM rep")
                catch_up(primary, replica)
                assert replica.execute("SELECT 1").fetchone()[0] == 1
                assert knn(replica, queries) == knn(primary, queries), f"round {round_}"
                # A multicolumn index's filter values replay too (id is its second column).
                filtered = "SELECT id FROM rep WHERE id = %s ORDER BY v <-> %s LIMIT 1"
                for k in range(0, next_id, 97):
                    assert (replica.execute(filtered, (k, queries[0])).fetchall()
                            == primary.execute(filtered, (k, queries[0])).fetchall()), k
                labelled = ("SELECT id FROM rep WHERE tag = 't3' AND labels @> '{2}' "
                            "ORDER BY v <-> %s LIMIT 20")
                assert (replica.execute(labelled, (queries[1],)).fetchall()
                        == primary.execute(labelled, (queries[1],)).fetchall())


def test_standby_replays_a_deferred_codebook_training():
    """A 'pq' index built on an empty table is pending; the insert that brings it 4,096
    rows trains its codebook and encodes every node, through WAL: the standby then answers
    as the primary does, and its checker finds every code the code of its vector."""
    primary_port = int(os.environ["PGPORT"])
    rng = np.random.default_rng(12)
    queries = rng.standard_normal((20, DIM)).astype(np.float32)
    with psycopg.connect(autocommit=True) as primary:
        register_vector(primary)
        primary.execute("DROP TABLE IF EXISTS rep_train")
        primary.execute(f"CREATE TABLE rep_train (id int PRIMARY KEY, v vector({DIM}))")
        primary.execute("CREATE INDEX rep_train_v ON rep_train USING hnsw (v) WITH (quantization = 'pq')")
        with standby(primary, primary_port, "standby_train") as replica:
            for first in range(0, 4400, 1100):
                assert format_version(primary, "rep_train_v") == 8, first
                insert_rows(primary, "rep_train", first, rng.standard_normal((1100, DIM)).astype(np.float32))
                catch_up(primary, replica)
                assert knn(replica, queries, "rep_train") == knn(primary, queries, "rep_train"), first
            assert format_version(primary, "rep_train_v") == 7
            check = "SELECT count(*) FROM hnsw_pg_check('rep_train_v')"
            assert replica.execute(check).fetchone()[0] == 0
            assert primary.execute(check).fetchone()[0] == 0


def test_standby_answers_while_the_primary_inserts_deletes_and_vacuums():
    """Reads on the standby during replay of inserts, deletes, VACUUM repairs and slot
    reuse (with hot_standby_feedback, as the README advises): every query returns its
    whole LIMIT with no ERROR, and once caught up the answers equal the primary's."""
    primary_port = int(os.environ["PGPORT"])
    rng = np.random.default_rng(12)
    queries = rng.standard_normal((20, DIM)).astype(np.float32)
    with psycopg.connect(autocommit=True) as primary:
        register_vector(primary)
        primary.execute("DROP TABLE IF EXISTS rep_live")
        primary.execute(f"CREATE TABLE rep_live (id int PRIMARY KEY, v vector({DIM}))")
        insert_rows(primary, "rep_live", 0, rng.standard_normal((2000, DIM)).astype(np.float32))
        primary.execute("CREATE INDEX rep_live_v ON rep_live USING hnsw (v)")
        with standby(primary, primary_port, "standby-live", "-c hot_standby_feedback=on") as replica:
            catch_up(primary, replica)
            errors, done = [], threading.Event()

            def write():
                try:
                    with psycopg.connect(autocommit=True) as writer:
                        register_vector(writer)
                        next_id = 2000
                        for round_ in range(ROUNDS):
                            rows = rng.standard_normal((300, DIM)).astype(np.float32)
                            insert_rows(writer, "rep_live", next_id, rows)
                            next_id += len(rows)
                            writer.execute("DELETE FROM rep_live WHERE id %% 5 = %s", (round_,))
                            writer.execute("VACUUM rep_live")
                except Exception as e:  # reported by the main thread
                    errors.append(e)
                finally:
                    done.set()

            writer = threading.Thread(target=write)
            writer.start()
            replica.execute("SET enable_seqscan = off")
            answered = 0
            while not done.is_set() or answered < 50:
                q = queries[answered % len(queries)]
                rows = replica.execute("SELECT id FROM rep_live ORDER BY v <-> %s LIMIT 10", (q,)).fetchall()
                assert len(rows) == 10, f"query {answered}: {len(rows)} rows"
                answered += 1
            writer.join()
            assert not errors, errors
            catch_up(primary, replica)
            assert knn(replica, queries, "rep_live") == knn(primary, queries, "rep_live")
            check = replica.execute("SELECT count(*) FROM hnsw_pg_check('rep_live_v')").fetchone()[0]
            assert check == 0, replica.execute("SELECT * FROM hnsw_pg_check('rep_live_v')").fetchall()
