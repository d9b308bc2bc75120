"""halfvec through a real client: pgvector's psycopg adapter (HalfVector, text and binary),
results equal to numpy's on float16 values, and hnsw recall and index size of the halfvec
operator classes against the vector index on the same real data (WordNet glosses,
384-d MiniLM embeddings)."""

import time

import datasets
import numpy as np
import psycopg
import pytest
from pgvector import HalfVector
from pgvector.psycopg import register_vector


@pytest.fixture
def conn():
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        yield c


def test_round_trip_text_and_binary(conn):
    rng = np.random.default_rng(7)
    values = rng.normal(size=(50, 33)).astype(np.float16)
    conn.execute("DROP TABLE IF EXISTS hv_round")
    conn.execute("CREATE TABLE hv_round (id int, v halfvec(33))")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO hv_round VALUES (%s, %s)",
                        [(i, HalfVector(v)) for i, v in enumerate(values)])
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            rows = cur.execute("SELECT id, v FROM hv_round ORDER BY id").fetchall()
        got = np.array([r[1].to_numpy() for r in rows])
        assert got.dtype == np.float16
        assert np.array_equal(got, values), f"binary={binary}"
    # text output is the float4 text of each half, so it reads back exactly
    text = conn.execute("SELECT v::text FROM hv_round WHERE id = 0").fetchone()[0]
    parsed = np.array([float(x) for x in text.strip("[]").split(",")], dtype=np.float32)
    assert np.array_equal(parsed.astype(np.float16), values[0])


def test_distances_equal_numpy(conn):
    rng = np.random.default_rng(11)
    a = rng.normal(size=(20, 70)).astype(np.float16)
    b = rng.normal(size=70).astype(np.float16)
    conn.execute("DROP TABLE IF EXISTS hv_dist")
    conn.execute("CREATE TABLE hv_dist (id int, v halfvec(70))")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO hv_dist VALUES (%s, %s)",
                        [(i, HalfVector(v)) for i, v in enumerate(a)])
    rows = conn.execute(
        "SELECT v <-> %s, v <#> %s, v <=> %s, v <+> %s FROM hv_dist ORDER BY id",
        (HalfVector(b),) * 4).fetchall()
    got = np.array(rows)
    x, y = a.astype(np.float64), b.astype(np.float64)
    expected = np.stack([
        np.linalg.norm(x - y, axis=1),
        -(x @ y),
        1 - (x @ y) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y)),
        np.abs(x - y).sum(axis=1),
    ], axis=1)
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-5)


def recall_of(conn, table, expression, op, queries, truth):
    hits = 0
    started = time.perf_counter()
    sql = f"SELECT id FROM {table} ORDER BY {expression} {op} %s LIMIT 10"
    for q, expected in zip(queries, truth):
        found = [row[0] for row in conn.execute(sql, (q,), prepare=True).fetchall()]
        hits += len(set(found) & set(expected[:10].tolist()))
    return hits / (10 * len(queries)), len(queries) / (time.perf_counter() - started)


@pytest.mark.parametrize("opclass, op", [("cosine", "<=>"), ("l2", "<->"), ("ip", "<#>")])
def test_halfvec_recall_and_size_against_vector(conn, opclass, op):
    name = "wordnet-minilm-384-10k"
    base, queries, truth = datasets.base(name), datasets.queries(name), datasets.truth(name)
    # The embeddings are unit length, so the three metrics share one ground truth.
    assert np.allclose(np.linalg.norm(base, axis=1), 1, atol=1e-3)
    dim = base.shape[1]
    conn.execute("DROP TABLE IF EXISTS hv_words")
    conn.execute(f"CREATE TABLE hv_words (id int, embedding vector({dim}), half halfvec({dim}))")
    with conn.cursor() as cur:
        with cur.copy("COPY hv_words (id, embedding, half) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector", "halfvec"])
            for i, v in enumerate(base):
                copy.write_row((i, v, HalfVector(v)))
    conn.execute("SET hnsw.ef_search = 40")
    results = {}
    for label, expression, index_opclass in [
        ("vector", "embedding", f"vector_{opclass}_ops"),
        ("halfvec column", "half", f"halfvec_{opclass}_ops"),
        ("halfvec expression", f"(embedding::halfvec({dim}))", f"halfvec_{opclass}_ops"),
    ]:
        index = "hv_words_" + label.replace(" ", "_")
        started = time.perf_counter()
        conn.execute(f"CREATE INDEX {index} ON hv_words USING hnsw ({expression} {index_opclass})")
        build = time.perf_counter() - started
        size = conn.execute("SELECT pg_relation_size(%s)", (index,)).fetchone()[0]
        query_type = "vector" if label == "vector" else f"halfvec({dim})"
        plan = " ".join(r[0] for r in conn.execute(
            f"EXPLAIN SELECT id FROM hv_words ORDER BY {expression} {op} %s::{query_type} LIMIT 10",
            (queries[0],)).fetchall())
        assert index in plan, plan
        typed = [q if label == "vector" else HalfVector(q) for q in queries]
        recall, qps = recall_of(conn, "hv_words", expression, op, typed, truth)
        results[label] = (recall, size)
        print(f"{opclass} {label}: build {build:.2f} s, {size / 2**20:.1f} MiB, "
              f"recall@10 {recall:.4f}, {qps:.0f} queries/s")
        conn.execute(f"DROP INDEX {index}")
    vector_recall, vector_size = results["vector"]
    for label in ("halfvec column", "halfvec expression"):
        recall, size = results[label]
        assert recall >= 0.95, (label, recall)
        assert recall >= vector_recall - 0.01, (label, recall, vector_recall)
        # vectors take 3/4 of a vector index at 384-d; halving them saves about 3/8
        assert size <= 0.7 * vector_size, (label, size, vector_size)
