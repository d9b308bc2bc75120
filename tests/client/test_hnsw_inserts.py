"""Inserts clustered around one indexed row (a hub): the heuristic alone would link each new
row to the hub only, and the hub's full list would drop them in turn, leaving a quarter
of them unreachable. Every inserted row must stay reachable and be found."""


import datasets
import psycopg
from pgvector.psycopg import register_vector
from tables import create_and_load

WORDNET = "wordnet-minilm-384-10k"


def test_rows_inserted_around_a_hub_stay_reachable():
    base = datasets.base(WORDNET)
    hub = base[7]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        create_and_load(c, "hubbed", 384, enumerate(base[:3000]))
        c.execute("CREATE INDEX hubbed_embedding ON hubbed USING hnsw (embedding vector_cosine_ops)")
        added = [base[3000 + i] * 0.05 + hub for i in range(1000)]
        for i, v in enumerate(added):
            c.execute("INSERT INTO hubbed VALUES (%s, %s)", (10_000 + i, v), prepare=True)
        assert c.execute("SELECT * FROM hnsw_pg_check('hubbed_embedding')").fetchall() == []
        found = sum(
            c.execute("SELECT id FROM hubbed ORDER BY embedding <=> %s LIMIT 1", (v,),
                      prepare=True).fetchone()[0] == 10_000 + i
            for i, v in enumerate(added))
        assert found >= 0.99 * len(added)
