"""Partitions on one server: an hnsw index created through the parent of a table
partitioned by list gives each partition its own index. A k-NN query over the whole table
is a Merge Append of the partitions' index scans with the recall of one table; a filter on
the partition key prunes the other partitions first; inserts through the parent land in
their partition's index and every row stays reachable."""

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

import datasets
from server import reachable

NAME = "glove-6b-50-10k"
PARTS = 4
KNN = "SELECT id FROM parts {where} ORDER BY embedding <=> %s LIMIT 10"


def plan(c, sql, params):
    return [r[0].strip() for r in c.execute("EXPLAIN (COSTS OFF) " + sql, params).fetchall()]


def copy_with_category(c, rows):
    """Rows of (id, vector) into `parts`, each in category id % PARTS."""
    with c.cursor() as cur:
        with cur.copy("COPY parts (id, embedding, category) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector", "int4"])
            for i, v in rows:
                copy.write_row((i, v, i % PARTS))


def recall(found, truth):
    return sum(len(set(f) & set(t[:10])) for f, t in zip(found, truth)) / (10 * len(truth))


def test_partitioned_table():
    base, queries, truth = datasets.base(NAME), datasets.queries(NAME)[:200], datasets.truth(NAME)[:200]
    dim = base.shape[1]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("DROP TABLE IF EXISTS parts")
        c.execute(f"CREATE TABLE parts (id int, embedding vector({dim}), category int) PARTITION BY LIST (category)")
        for p in range(PARTS):
            c.execute(f"CREATE TABLE parts_{p} PARTITION OF parts FOR VALUES IN ({p})")
        copy_with_category(c, enumerate(base))
        c.execute("CREATE INDEX parts_embedding ON parts USING hnsw (embedding vector_cosine_ops)")
        c.execute("ANALYZE parts")
        indexes = {r[0] for r in c.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid::regclass::text LIKE 'parts_%'"
        ).fetchall()}
        assert len(indexes) == PARTS, indexes
        # A partition made later gets its index too.
        c.execute("CREATE TABLE parts_later PARTITION OF parts FOR VALUES IN (99)")
        assert c.execute("SELECT am.amname FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid"
                         " JOIN pg_am am ON am.oid = x.relam WHERE i.indrelid = 'parts_later'::regclass"
                         ).fetchall() == [("hnsw",)]
        c.execute("DROP TABLE parts_later")

        lines = plan(c, KNN.format(where=""), (queries[0],))
        assert lines[0] == "Limit" and lines[1] == "->  Merge Append", lines
        scans = [line for line in lines if line.startswith("->  Index Scan using")]
        assert len(scans) == PARTS, lines
        c.execute("SET hnsw.ef_search = 40")
        found = [[r[0] for r in c.execute(KNN.format(where=""), (q,), prepare=True).fetchall()] for q in queries]
        assert recall(found, truth) >= 0.95

        # A filter on the partition key: one partition's index, against exact search in it.
        where = "WHERE category = 2"
        lines = plan(c, KNN.format(where=where), (queries[0],))
        scans = [line for line in lines if "Scan" in line]
        assert len(scans) == 1 and scans[0].startswith("->  Index Scan using parts_2_"), lines
        found = [[r[0] for r in c.execute(KNN.format(where=where), (q,), prepare=True).fetchall()]
                 for q in queries]
        c.execute("SET enable_indexscan = off")
        exact = [[r[0] for r in c.execute(KNN.format(where=where), (q,)).fetchall()] for q in queries]
        c.execute("RESET enable_indexscan")
        assert all(i % PARTS == 2 for f in found for i in f)
        assert recall(found, np.array(exact)) >= 0.95

        # Inserts through the parent go to their partition and its index.
        extra = datasets.queries(NAME)[200:300]
        first = len(base)
        copy_with_category(c, [(first + i, v) for i, v in enumerate(extra)])
        for i, v in enumerate(extra[:20]):
            row = c.execute("SELECT id, tableoid::regclass::text FROM parts ORDER BY embedding <=> %s LIMIT 1",
                            (v,)).fetchone()
            assert row == (first + i, f"parts_{(first + i) % PARTS}")
        c.execute("DELETE FROM parts WHERE id % 5 = 0")
        c.execute("VACUUM parts")
        expected = {r[0] for r in c.execute("SELECT id FROM parts").fetchall()}
        assert reachable(c, "parts", dim, "embedding", "<=>") == expected
        for p in range(PARTS):
            index = next(i for i in indexes if i.startswith(f"parts_{p}_"))
            assert c.execute("SELECT * FROM hnsw_pg_check(%s)", (index,)).fetchall() == []
        c.execute("DROP TABLE parts")
