"""The plans the planner picks for filtered k-NN queries (`WHERE s < bound ORDER BY
embedding <-> q LIMIT 10`, with `s = id % 1000` uncorrelated with the vectors, no other
index) on real data of 784, 384 and 50 dimensions: the hnsw index while many rows pass,
the exact plan (a sequential scan of the rows that pass and a sort) once so few pass that
the index would walk far past its first beam to find ten, and for a filter no row passes
(a range, or a value the column never holds). Whatever the plan, the answer is the whole
LIMIT, with recall@10 >= 0.95 against exact filtered search."""

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

import datasets

NAMES = ["fashion-mnist-784-10k", "wordnet-minilm-384-10k", "glove-6b-50-10k"]
SQL = "SELECT id FROM filtered WHERE s < {bound} ORDER BY embedding <-> %s LIMIT 10"
# bound: (share of rows passing, the plan expected)
CASES = {500: ("50%", "index"), 100: ("10%", "index"), 1: ("0.1%", "exact"), 0: ("none", "exact")}


@pytest.fixture(scope="module", params=NAMES)
def table(request):
    base = datasets.base(request.param)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS filtered")
        c.execute(f"CREATE TABLE filtered (id int, s int, embedding vector({base.shape[1]}))")
        with c.cursor() as cur:
            with cur.copy("COPY filtered (id, s, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "int4", "vector"])
                for i, v in enumerate(base):
                    copy.write_row((i, i % 1000, v))
        c.execute("CREATE INDEX filtered_embedding ON filtered USING hnsw (embedding vector_l2_ops)")
        c.execute("VACUUM ANALYZE filtered")
    yield request.param, base
    with psycopg.connect(autocommit=True) as c:
        c.execute("DROP TABLE filtered")


def plan_kind(c, sql, query):
    lines = [r[0] for r in c.execute("EXPLAIN (COSTS OFF) " + sql, (query,)).fetchall()]
    if any("Index Scan using filtered_embedding" in line for line in lines):
        return "index"
    assert any("Sort" in line for line in lines) and any("Seq Scan on filtered" in line for line in lines), lines
    return "exact"


@pytest.mark.parametrize("bound", list(CASES))
def test_plan_and_answer(table, bound):
    name, base = table
    share, expected_plan = CASES[bound]
    queries = datasets.queries(name)[:50]
    ids = np.arange(len(base))
    passing = ids[ids % 1000 < bound]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("SET hnsw.ef_search = 40")
        sql = SQL.format(bound=bound)
        assert plan_kind(c, sql, queries[0]) == expected_plan, share
        hits = 0
        for q in queries:
            found = [r[0] for r in c.execute(sql, (q,)).fetchall()]
            order = passing[np.argsort(((base[passing] - q) ** 2).sum(axis=1), kind="stable")]
            exact = order[:10].tolist()
            assert len(found) == len(exact), share
            hits += len(set(found) & set(exact))
        if passing.size:
            assert hits / (len(queries) * 10) >= 0.95, share


def test_a_value_no_row_holds_plans_exact(table):
    # The planner estimates an unknown value at 1 / (distinct values): 0.1% of rows.
    name, _ = table
    query = datasets.queries(name)[0]
    sql = "SELECT id FROM filtered WHERE s = 5000 ORDER BY embedding <-> %s LIMIT 10"
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        assert plan_kind(c, sql, query) == "exact", name
        assert c.execute(sql, (query,)).fetchall() == []
