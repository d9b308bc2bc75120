"""Concurrent inserts, deletes, VACUUMs and scans on one hnsw index: no errors, and
afterwards hnsw_pg_check finds nothing, every row is reachable through the index, the
nearest neighbours of fresh rows are right, and recall@10 against exact search holds."""

import threading

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

DIM = 16
BASE = 2000
WRITERS = 3
PER_WRITER = 400


def vectors(seed, n):
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def test_concurrent_inserts_and_scans():
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS conc")
        c.execute(f"CREATE TABLE conc (id int PRIMARY KEY, v vector({DIM}))")
        with c.cursor() as cur:
            cur.executemany("INSERT INTO conc VALUES (%s, %s)", list(enumerate(vectors(1, BASE))))
        c.execute("CREATE INDEX conc_v ON conc USING hnsw (v)")

    errors = []
    stop = threading.Event()

    def writer(w):
        try:
            with psycopg.connect(autocommit=True) as c:
                register_vector(c)
                for k, v in enumerate(vectors(100 + w, PER_WRITER)):
                    c.execute("INSERT INTO conc VALUES (%s, %s)", (BASE + w * PER_WRITER + k, v))
        except Exception as e:  # noqa: BLE001 - any failure fails the test
            errors.append(e)

    def reader():
        try:
            with psycopg.connect(autocommit=True) as c:
                register_vector(c)
                c.execute("SET enable_seqscan = off")
                queries = vectors(7, 50)
                while not stop.is_set():
                    for q in queries:
                        rows = c.execute("SELECT id FROM conc ORDER BY v <-> %s LIMIT 10", (q,)).fetchall()
                        assert len(rows) == 10
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def deleter():
        try:
            with psycopg.connect(autocommit=True) as c:
                k = 0
                while not stop.is_set():
                    c.execute("DELETE FROM conc WHERE id = %s", (k * 7,))
                    k += 1
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def vacuumer():
        try:
            with psycopg.connect(autocommit=True) as c:
                while not stop.wait(0.3):
                    c.execute("VACUUM conc")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    background = [threading.Thread(target=f) for f in (reader, deleter, vacuumer)]
    for t in background + threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in background:
        t.join()
    assert not errors, errors

    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("VACUUM conc")
        problems = [r[0] for r in c.execute("SELECT * FROM hnsw_pg_check('conc_v')").fetchall()]
        assert problems == []
        c.execute("SET enable_seqscan = off")
        c.execute("SET hnsw.ef_search = 1000")
        c.execute("SET hnsw.max_scan_tuples = 1000000")
        total = c.execute("SELECT count(*) FROM conc").fetchone()[0]
        assert total < BASE + WRITERS * PER_WRITER, "the deleter deleted something"
        reached = c.execute(
            f"SELECT count(DISTINCT id) FROM (SELECT id FROM conc ORDER BY v <-> %s LIMIT {total}) s",
            (np.zeros(DIM, np.float32),),
        ).fetchone()[0]
        assert reached == total, f"{total - reached} rows unreachable through the index"
        # Recall@10 at ef_search 40 against exact search over what is left.
        c.execute("SET hnsw.ef_search = 40")
        rows = c.execute("SELECT id, v FROM conc").fetchall()
        ids = np.array([r[0] for r in rows])
        data = np.stack([r[1].to_numpy() if hasattr(r[1], "to_numpy") else r[1] for r in rows])
        hits = 0
        for q in vectors(9, 100):
            truth = set(ids[np.argsort(np.linalg.norm(data - q, axis=1))[:10]].tolist())
            found = {r[0] for r in c.execute("SELECT id FROM conc ORDER BY v <-> %s LIMIT 10", (q,)).fetchall()}
            hits += len(found & truth)
        assert hits / 1000 >= 0.95, f"recall@10 {hits / 1000}"
        # Every freshly inserted row is its own nearest neighbour.
        fresh = c.execute("SELECT id, v FROM conc WHERE id >= %s ORDER BY id", (BASE,)).fetchall()
        misses = sum(
            1
            for id_, v in fresh
            if c.execute("SELECT id FROM conc ORDER BY v <-> %s LIMIT 1", (v,)).fetchone()[0] != id_
        )
        assert misses == 0, f"{misses} inserted rows are not found as their own nearest neighbour"
