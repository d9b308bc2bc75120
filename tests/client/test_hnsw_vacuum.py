"""VACUUM on real data: delete a third of wordnet-minilm-384-10k, vacuum: deleted rows never
come back, hnsw_pg_check finds nothing wrong, and recall@10 at ef_search 40 against exact
search over the live rows stays at least 0.95."""

import pathlib
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

DATA = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wordnet-minilm-384-10k"


def test_recall_after_deleting_a_third_and_vacuuming():
    base = np.load(DATA / "base.npy").astype(np.float32)
    queries = np.load(DATA / "query.npy").astype(np.float32)[:300]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS wn")
        c.execute("CREATE TABLE wn (id int PRIMARY KEY, embedding vector(384))")
        with c.cursor() as cur:
            with cur.copy("COPY wn (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "vector"])
                for i, v in enumerate(base):
                    copy.write_row((i, v))
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
