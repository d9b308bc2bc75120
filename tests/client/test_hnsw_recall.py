"""Recall of the hnsw index inside Postgres on real data, at the default build settings
(m = 16, ef_construction = 64) and hnsw.ef_search = 40: recall@10 against the data sets'
exact ground truth must be at least 0.95."""

import time

import datasets
import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

def load(name):
    return datasets.base(name), datasets.queries(name), datasets.truth(name)


@pytest.fixture
def conn():
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        yield c


@pytest.mark.parametrize(
    "name, opclass, op",
    [
        ("wordnet-minilm-384-10k", "vector_cosine_ops", "<=>"),
        ("fashion-mnist-784-10k", "vector_l2_ops", "<->"),
    ],
)
def test_recall_at_ef_search_40(conn, name, opclass, op):
    base, queries, truth = load(name)
    table = name.replace("-", "_")
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (id int, embedding vector({base.shape[1]}))")
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(base):
                copy.write_row((i, v))
    started = time.perf_counter()
    conn.execute(f"CREATE INDEX ON {table} USING hnsw (embedding {opclass})")
    build = time.perf_counter() - started
    conn.execute("SET hnsw.ef_search = 40")
    plan = conn.execute(
        f"EXPLAIN SELECT id FROM {table} ORDER BY embedding {op} %s LIMIT 10", (queries[0],)
    ).fetchall()
    assert "Index Scan" in " ".join(row[0] for row in plan)
    hits = 0
    started = time.perf_counter()
    sql = f"SELECT id FROM {table} ORDER BY embedding {op} %s LIMIT 10"
    for q, expected in zip(queries, truth):
        found = [row[0] for row in conn.execute(sql, (q,), prepare=True).fetchall()]
        hits += len(set(found) & set(expected[:10].tolist()))
    elapsed = time.perf_counter() - started
    recall = hits / (10 * len(queries))
    print(f"{name}: build {build:.2f} s, recall@10 {recall:.4f}, {len(queries) / elapsed:.0f} queries/s")
    assert recall >= 0.95
