"""VACUUM on real data: delete a third of wordnet-minilm-384-10k, vacuum: deleted rows never
come back, hnsw_pg_check finds nothing wrong, and recall@10 at ef_search 40 against exact
search over the live rows stays at least 0.95."""

import time

import datasets
import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from tables import create_and_load

WORDNET = "wordnet-minilm-384-10k"


def test_recall_after_deleting_a_third_and_vacuuming():
    base = datasets.base(WORDNET)
    queries = datasets.queries(WORDNET)[:300]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        create_and_load(c, "wn", 384, enumerate(base))
        c.execute("CREATE INDEX wn_embedding ON wn USING hnsw (embedding vector_cosine_ops)")
        c.execute("DELETE FROM wn WHERE id % 3 = 0")
        started = time.perf_counter()
        c.execute("VACUUM wn")
        print(f"VACUUM after deleting a third of 10k rows: {time.perf_counter() - started:.2f} s")
        problems = [row[0] for row in c.execute("SELECT * FROM hnsw_pg_check('wn_embedding')").fetchall()]
        assert problems == []

        live = np.array([i for i in range(len(base)) if i % 3 != 0])
        unit = base[live] / np.linalg.norm(base[live], axis=1, keepdims=True)
        qunit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        truth = live[np.argsort(-(qunit @ unit.T), axis=1)[:, :10]]
        c.execute("SET hnsw.ef_search = 40")
        hits = 0
        for q, t in zip(queries, truth):
            found = [r[0] for r in c.execute(
                "SELECT id FROM wn ORDER BY embedding <=> %s LIMIT 10", (q,), prepare=True).fetchall()]
            assert all(i % 3 != 0 for i in found), "a deleted row came back"
            hits += len(set(found) & set(t.tolist()))
        recall = hits / (10 * len(queries))
        print(f"recall@10 after VACUUM: {recall:.4f}")
        assert recall >= 0.95


def test_vacuum_frees_slots_that_inserts_reuse():
    """Delete and vacuum, insert as many rows again: the index does not grow, every row is
    found (the reused slots hold the new rows, not the old), and the check is clean."""
    base = datasets.base(WORDNET)
    first, second = base[:4000], base[4000:5000]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        create_and_load(c, "reuse", 384, enumerate(first))
        c.execute("CREATE INDEX reuse_embedding ON reuse USING hnsw (embedding vector_cosine_ops)")
        c.execute("DELETE FROM reuse WHERE id % 4 = 0")
        c.execute("VACUUM reuse")
        size = c.execute("SELECT pg_relation_size('reuse_embedding')").fetchone()[0]
        for i, v in enumerate(second):
            c.execute("INSERT INTO reuse VALUES (%s, %s)", (10_000 + i, v))
        assert c.execute("SELECT pg_relation_size('reuse_embedding')").fetchone()[0] == size
        assert c.execute("SELECT * FROM hnsw_pg_check('reuse_embedding')").fetchall() == []

        # Each new row is its own nearest neighbour, found through the index.
        c.execute("SET hnsw.ef_search = 40")
        hits = 0
        for i, v in enumerate(second):
            row = c.execute("SELECT id FROM reuse ORDER BY embedding <=> %s LIMIT 1", (v,),
                            prepare=True).fetchone()
            hits += row[0] == 10_000 + i
        assert hits >= 0.99 * len(second)

        # A second cycle frees the reused slots again (generations move on) and still no row
        # of either deleted set comes back.
        c.execute("DELETE FROM reuse WHERE id >= 10000 AND id % 2 = 0")
        c.execute("VACUUM reuse")
        assert c.execute("SELECT * FROM hnsw_pg_check('reuse_embedding')").fetchall() == []
        for v in first[:200:4]:
            ids = [r[0] for r in c.execute(
                "SELECT id FROM reuse ORDER BY embedding <=> %s LIMIT 20", (v,)).fetchall()]
            assert all(i % 4 != 0 for i in ids if i < 10_000)
            assert all(i % 2 != 0 for i in ids if i >= 10_000)


def test_resumed_scan_across_vacuum_and_slot_reuse():
    """A cursor holds a resumed index scan (node ids kept across FETCHes) while another
    session vacuums deleted rows and inserts new ones into the freed slots: the cursor
    returns its snapshot's rows, each once, nearest first, and none of the new ones."""
    base = datasets.base(WORDNET)
    query = base[7]
    with psycopg.connect(autocommit=True) as c, psycopg.connect(autocommit=True) as other:
        register_vector(c)
        register_vector(other)
        create_and_load(c, "resumed", 384, enumerate(base[:3000]))
        c.execute("CREATE INDEX resumed_embedding ON resumed USING hnsw (embedding vector_cosine_ops)")
        # Deleted and committed before the cursor's snapshot: VACUUM may free them at once.
        c.execute("DELETE FROM resumed WHERE id % 3 = 0")
        c.execute("BEGIN")
        c.execute("SET LOCAL hnsw.ef_search = 10")
        c.execute("SET LOCAL enable_seqscan = off")
        c.execute("DECLARE near CURSOR FOR SELECT id, embedding <=> %s FROM resumed "
                  "ORDER BY embedding <=> %s", (query, query))
        fetched = c.execute("FETCH 30 FROM near").fetchall()

        other.execute("VACUUM resumed")
        # New rows near the query land in the freed slots.
        for i in range(1000):
            nudged = base[3000 + i] * 0.05 + query
            other.execute("INSERT INTO resumed VALUES (%s, %s)", (20_000 + i, nudged))

        while True:
            rows = c.execute("FETCH 200 FROM near").fetchall()
            if not rows:
                break
            fetched += rows
        c.execute("COMMIT")

        ids = [r[0] for r in fetched]
        distances = [r[1] for r in fetched]
        assert len(ids) == len(set(ids)), "a row came back twice"
        assert all(i % 3 != 0 and i < 3000 for i in ids), "a deleted or a new row came back"
        # The first beam comes out exactly in order; each resumed batch is in order too, but
        # a batch can hold a row nearer than the last of the one before (HNSW is approximate).
        assert distances[:10] == sorted(distances[:10])
        inversions = sum(b < a - 1e-6 for a, b in zip(distances, distances[1:]))
        assert inversions <= 0.05 * len(distances)
        # The resumed scan reached (nearly) all 2,000 live rows.
        assert len(ids) >= 0.98 * 2000
        reused = other.execute("SELECT count(*) FROM resumed WHERE id >= 20000").fetchone()[0]
        assert reused == 1000
        assert other.execute("SELECT * FROM hnsw_pg_check('resumed_embedding')").fetchall() == []
