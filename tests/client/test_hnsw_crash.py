"""Crash recovery: an index built, then changed by inserts and VACUUM, survives an
immediate shutdown (no checkpoint); after WAL replay every committed row is found through
the index and the index keeps taking inserts. Then 20 crash rounds under active writers,
a crash in the middle of CREATE INDEX, an unlogged table's index after a crash, and a
crash while an insert trains a pending codebook."""

import os
import pathlib
import signal
import threading
import time

import numpy as np
import pytest
import psycopg
from pgvector.psycopg import register_vector

from server import crash_during_insert, reachable, restart_after_crash
from tables import copy_rows, create_and_load, format_version

# It stops, crashes and restarts its server: a cluster of its own (conftest.py).
CLUSTER_PORT = 55441
pytestmark = pytest.mark.usefixtures("restartable_cluster")


@pytest.mark.parametrize("definition", ["(v)", "(v) WITH (quantization = 'sq8')", "(v) WITH (quantization = 'pq')",
                                        "(v) WITH (quantization = 'pq', compact = true)",
                                        "(v vector_l2_ops, id, tag, labels)"])
def test_index_survives_an_immediate_shutdown(definition):
    dim = 12
    rng = np.random.default_rng(5)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("CHECKPOINT")
        c.execute("DROP TABLE IF EXISTS crash")
        # tag and labels: a text and an array filter column for the multicolumn index.
        c.execute(f"CREATE TABLE crash (id int PRIMARY KEY, v vector({dim}), "
                  "tag text GENERATED ALWAYS AS ('t' || (id % 5)) STORED, "
                  "labels int[] GENERATED ALWAYS AS (ARRAY[id % 3, id % 11]) STORED)")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO crash VALUES (%s, %s)",
                            [(i, v) for i, v in enumerate(rng.standard_normal((1500, dim)).astype(np.float32))])
        c.execute(f"CREATE INDEX crash_v ON crash USING hnsw {definition}")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO crash VALUES (%s, %s)",
                            [(1500 + i, v) for i, v in enumerate(rng.standard_normal((1500, dim)).astype(np.float32))])
        c.execute("DELETE FROM crash WHERE id % 10 = 0")
        c.execute("VACUUM crash")
    # An insert still uncommitted when the server dies must not be there afterwards.
    crash_during_insert("crash", 9999, dim)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        expected = {row[0] for row in c.execute("SELECT id FROM crash").fetchall()}
        assert len(expected) == 2700 and 9999 not in expected
        assert reachable(c, "crash", dim) == expected
        assert c.execute("SELECT * FROM hnsw_pg_check('crash_v')").fetchall() == []
        # Each committed row by its id (a multicolumn index applies the filter itself).
        by_id = "SELECT id FROM crash WHERE id = %s ORDER BY v <-> %s LIMIT 5"
        for k in range(0, 3000, 37):
            found = [r[0] for r in c.execute(by_id, (k, np.zeros(dim, np.float32))).fetchall()]
            assert found == ([k] if k in expected else []), k
        c.execute("SET enable_seqscan = off")
        labelled = {r[0] for r in c.execute("SELECT id FROM crash WHERE tag = 't3' AND labels @> '{2}' "
                                            "ORDER BY v <-> %s LIMIT 3000", (np.zeros(dim, np.float32),))}
        assert labelled == {i for i in expected if i % 5 == 3 and 2 in (i % 3, i % 11)}
        c.execute("RESET enable_seqscan")
        c.execute("INSERT INTO crash VALUES (10000, %s)", (np.full(dim, 0.5, np.float32),))
        nearest = c.execute("SELECT id FROM crash ORDER BY v <-> %s LIMIT 1",
                            (np.full(dim, 0.5, np.float32),)).fetchone()[0]
        assert nearest == 10000


def wait_until_accepting(timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(connect_timeout=2) as c:
                c.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "the server did not come back"
            time.sleep(0.1)


ROUNDS = int(os.environ.get("HNSW_PG_CRASH_ROUNDS", "20"))


def test_crash_rounds_with_active_writers():
    """ROUNDS rounds (20; `make test-long` runs more): writers insert and delete while
    VACUUM frees slots that the inserts reuse, then the server dies (immediate shutdown,
    or kill -9 of a backend); after recovery every acknowledged row is there and the
    index finds exactly the table's rows."""
    dim = 8
    with psycopg.connect(autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS rounds")
        c.execute(f"CREATE TABLE rounds (id bigint PRIMARY KEY, v vector({dim}))")
        c.execute("CREATE INDEX rounds_v ON rounds USING hnsw (v)")
    acknowledged, deleted = set(), set()
    next_id = [0]
    lock = threading.Lock()

    def writer(seed, stop):
        rng = np.random.default_rng(seed)
        try:
            with psycopg.connect(autocommit=True) as c:
                register_vector(c)
                pids.append(c.execute("SELECT pg_backend_pid()").fetchone()[0])
                while not stop.is_set():
                    with lock:
                        id_ = next_id[0]
                        next_id[0] += 1
                    c.execute("INSERT INTO rounds VALUES (%s, %s)", (id_, rng.standard_normal(dim).astype(np.float32)))
                    with lock:
                        acknowledged.add(id_)
                    if id_ % 5 == 0 and id_ > 10:
                        # Counted as deleted before it runs: if the server dies mid-way,
                        # the DELETE may have committed without our hearing of it.
                        with lock:
                            deleted.add(id_ - 10)
                        c.execute("DELETE FROM rounds WHERE id = %s", (id_ - 10,))
        except psycopg.Error:
            pass  # the server went away

    def vacuumer(stop):
        try:
            with psycopg.connect(autocommit=True) as c:
                while not stop.is_set():
                    c.execute("VACUUM rounds")
        except psycopg.Error:
            pass  # the server went away

    for round_ in range(ROUNDS):
        stop = threading.Event()
        pids = []
        threads = [threading.Thread(target=writer, args=(round_ * 10 + k, stop)) for k in range(3)]
        threads.append(threading.Thread(target=vacuumer, args=(stop,)))
        for t in threads:
            t.start()
        time.sleep(0.4)
        deadline = time.monotonic() + 30
        while not pids:
            assert time.monotonic() < deadline, "no writer connected"
            time.sleep(0.05)
        if round_ % 2 == 0:
            restart_after_crash()
        else:
            os.kill(pids[0], signal.SIGKILL)  # the postmaster resets every backend
            # Until the postmaster has reaped the killed backend it still accepts
            # connections that the reset is about to end: wait for it first.
            deadline = time.monotonic() + 30
            while True:
                try:
                    os.kill(pids[0], 0)
                except ProcessLookupError:
                    break
                assert time.monotonic() < deadline, "the killed backend was not reaped"
                time.sleep(0.02)
        stop.set()
        for t in threads:
            t.join()
        wait_until_accepting()
        with psycopg.connect(autocommit=True) as c:
            register_vector(c)
            in_table = {row[0] for row in c.execute("SELECT id FROM rounds").fetchall()}
            missing = (acknowledged - deleted) - in_table
            assert not missing, f"round {round_}: acknowledged rows lost: {sorted(missing)[:10]}"
            c.execute("SET enable_seqscan = off")
            c.execute("SET hnsw.ef_search = 1000")
            c.execute("SET hnsw.max_scan_tuples = 1000000")
            found = [row[0] for row in c.execute(
                "SELECT id FROM rounds ORDER BY v <-> %s LIMIT 1000000", (np.zeros(dim, np.float32),)).fetchall()]
            if len(found) != len(set(found)) or set(found) != in_table:
                problems = c.execute("SELECT * FROM hnsw_pg_check('rounds_v')").fetchall()
                pytest.fail(f"round {round_}: {len(found)} found, {len(set(found))} distinct, "
                            f"{len(in_table)} in the table, missing {sorted(in_table - set(found))[:10]}, "
                            f"extra {sorted(set(found) - in_table)[:10]}; check: {problems[:10]}")
    with psycopg.connect(autocommit=True) as c:
        # Inserts cut short by a crash left entries of rows that never committed; VACUUM
        # removes them, and then the check must find nothing.
        c.execute("VACUUM rounds")
        assert c.execute("SELECT * FROM hnsw_pg_check('rounds_v')").fetchall() == []
    print(f"crash rounds passed: {ROUNDS}, rows acknowledged: {len(acknowledged)}")
    log = pathlib.Path(os.environ["HNSW_PG_CLUSTER_DIR"], "server.log").read_text()
    assert "PANIC" not in log and "corrupt" not in log and "invalid page" not in log


# Rows of distinct 8-d vectors for the unlogged product-quantization table.
PQ_ROWS = "SELECT i, ARRAY[i % 7, i % 11, i % 13, i % 17, i % 19, i % 23, i / 100, i % 5]::vector(8)"


def test_crash_during_create_index_and_unlogged_tables():
    dim = 64
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS big_build, unlogged_items, unlogged_pq")
        c.execute(f"CREATE TABLE big_build (id int, v vector({dim}))")
        c.execute(f"INSERT INTO big_build SELECT i, (SELECT array_agg(random()) FROM generate_series(1, {dim}) "
                  "WHERE i > 0) FROM generate_series(1, 40000) i")
        c.execute("CREATE UNLOGGED TABLE unlogged_items (id int, v vector(3))")
        c.execute("CREATE INDEX unlogged_v ON unlogged_items USING hnsw (v)")
        c.execute("INSERT INTO unlogged_items SELECT i, ARRAY[i, i, i] FROM generate_series(1, 100) i")
        # A pending product-quantization index: its init fork holds the meta page alone.
        c.execute("CREATE UNLOGGED TABLE unlogged_pq (id int, v vector(8))")
        c.execute("CREATE INDEX unlogged_pq_v ON unlogged_pq USING hnsw (v) WITH (quantization = 'pq')")
        c.execute(f"INSERT INTO unlogged_pq {PQ_ROWS} FROM generate_series(1, 300) i")
        c.execute("CHECKPOINT")

    def build():
        try:
            with psycopg.connect(autocommit=True) as c:
                c.execute("CREATE INDEX crashed_build ON big_build USING hnsw (v)")
        except psycopg.Error:
            pass

    builder = threading.Thread(target=build)
    builder.start()
    with psycopg.connect(autocommit=True) as observer:
        deadline = time.monotonic() + 60
        while observer.execute(
                "SELECT count(*) FROM pg_stat_progress_create_index WHERE phase LIKE '%building graph%'"
        ).fetchone()[0] == 0:
            assert time.monotonic() < deadline and builder.is_alive(), "the build did not reach its graph phase"
            time.sleep(0.01)
    restart_after_crash()
    builder.join()
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        assert c.execute("SELECT to_regclass('crashed_build')").fetchone()[0] is None
        c.execute("CREATE INDEX rebuilt ON big_build USING hnsw (v)")
        assert c.execute("SELECT count(*) FROM hnsw_pg_check('rebuilt')").fetchone()[0] == 0
        # The unlogged table comes back empty, with a usable empty index.
        assert c.execute("SELECT count(*) FROM unlogged_items").fetchone()[0] == 0
        c.execute("INSERT INTO unlogged_items SELECT i, ARRAY[i, i, i] FROM generate_series(1, 50) i")
        c.execute("SET enable_seqscan = off")
        nearest = c.execute("SELECT id FROM unlogged_items ORDER BY v <-> '[7,7,7]' LIMIT 1").fetchone()[0]
        assert nearest == 7
        assert c.execute("SELECT count(*) FROM hnsw_pg_check('unlogged_v')").fetchone()[0] == 0
        # The pending index comes back as its init fork and trains once rows arrive.
        assert c.execute("SELECT count(*) FROM unlogged_pq").fetchone()[0] == 0
        assert format_version(c, "unlogged_pq_v") == 8
        c.execute(f"INSERT INTO unlogged_pq {PQ_ROWS} FROM generate_series(1, 4200) i")
        assert format_version(c, "unlogged_pq_v") == 7
        assert c.execute("SELECT count(*) FROM hnsw_pg_check('unlogged_pq_v')").fetchone()[0] == 0
        probe = "SELECT id FROM unlogged_pq ORDER BY v <-> (SELECT v FROM unlogged_pq WHERE id = 777) LIMIT 1"
        assert c.execute(probe).fetchone()[0] == 777


def test_crash_while_an_insert_trains_a_pending_codebook():
    """A 'pq' index built on an empty table is pending; the server dies while the insert
    that brings it 4,096 rows is training (its exclusive page lock seen in pg_locks).
    After recovery every acknowledged row is found through the index, the checker is
    clean, and the next inserts train it."""
    dim = 2000  # about 0.8 s of training: time to see its lock
    rng = np.random.default_rng(8)
    rows = rng.standard_normal((4300, dim)).astype(np.float32)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        create_and_load(c, "pending", dim, [])
        c.execute("CREATE INDEX pending_v ON pending USING hnsw (embedding) WITH (quantization = 'pq')")
        copy_rows(c, "pending", enumerate(rows[:4000]))
        index = c.execute("SELECT 'pending_v'::regclass::oid").fetchone()[0]
        assert format_version(c, "pending_v") == 8
    acknowledged = []

    def insert():
        try:
            with psycopg.connect(autocommit=True) as w:
                register_vector(w)
                for i in range(4000, 4200):
                    w.execute("INSERT INTO pending VALUES (%s, %s)", (i, rows[i]))
                    acknowledged.append(i)
        except psycopg.OperationalError:
            pass  # the server died

    writer = threading.Thread(target=insert)
    writer.start()
    with psycopg.connect(autocommit=True) as observer:
        training = ("SELECT count(*) FROM pg_locks WHERE locktype = 'page' AND relation = %s "
                    "AND page = 0 AND mode = 'ExclusiveLock' AND granted")
        deadline = time.monotonic() + 60
        while observer.execute(training, (index,)).fetchone()[0] == 0:
            assert writer.is_alive() and time.monotonic() < deadline, "no training seen"
            time.sleep(0.005)
    restart_after_crash()
    writer.join()
    wait_until_accepting()
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        assert format_version(c, "pending_v") == 8, "the crash came before the training's end"
        expected = {row[0] for row in c.execute("SELECT id FROM pending").fetchall()}
        assert set(range(4000)) | set(acknowledged) <= expected
        assert c.execute("SELECT * FROM hnsw_pg_check('pending_v')").fetchall() == []
        assert reachable(c, "pending", dim, column="embedding") == expected
        for i in range(4200, 4300):
            c.execute("INSERT INTO pending VALUES (%s, %s)", (i, rows[i]))
        assert format_version(c, "pending_v") == 7
        assert c.execute("SELECT * FROM hnsw_pg_check('pending_v')").fetchall() == []
        c.execute("SET enable_seqscan = off")
        assert c.execute("SELECT id FROM pending ORDER BY embedding <-> %s LIMIT 1", (rows[4250],)).fetchone()[0] == 4250
