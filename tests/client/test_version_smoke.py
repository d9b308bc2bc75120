"""The smoke test every PostgreSQL version runs (`make test-pg16`, `-pg17`, `-pg18`
after their pg_regress suite; on 15 it is part of the client suite): an index built on
real data (GloVe, cosine) answers with recall@10 ≥ 0.95; inserts, a DELETE and VACUUM
leave every row reachable and `hnsw_pg_check` clean; after an immediate shutdown the
WAL replay brings back exactly the committed rows, all reachable, and the index keeps
taking inserts. On 18, EXPLAIN ANALYZE counts the index's searches."""

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

import datasets
from server import crash_during_insert, reachable
from tables import copy_rows, create_and_load

# It crashes its server: a cluster of its own (conftest.py).
CLUSTER_PORT = 55443
pytestmark = pytest.mark.usefixtures("restartable_cluster")

NAME = "glove-6b-50-10k"


def recall_at_10(c, queries, truth):
    sql = "SELECT id FROM smoke ORDER BY embedding <=> %s LIMIT 10"
    hits = sum(len({row[0] for row in c.execute(sql, (q,), prepare=True).fetchall()} & set(t[:10].tolist()))
               for q, t in zip(queries, truth))
    return hits / (10 * len(queries))


def test_build_scan_insert_vacuum_crash():
    base, queries, truth = datasets.base(NAME), datasets.queries(NAME), datasets.truth(NAME)
    dim = base.shape[1]
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        version = c.execute("SHOW server_version_num").fetchone()[0]
        print(f"PostgreSQL {version}")
        create_and_load(c, "smoke", dim, enumerate(base))
        c.execute("CREATE INDEX smoke_embedding ON smoke USING hnsw (embedding vector_cosine_ops)")
        c.execute("SET hnsw.ef_search = 40")
        plan = " ".join(r[0] for r in c.execute(
            "EXPLAIN SELECT id FROM smoke ORDER BY embedding <=> %s LIMIT 10", (queries[0],)).fetchall())
        assert "Index Scan using smoke_embedding" in plan
        # EXPLAIN ANALYZE counts the index's searches from 18 on (one per scan, a
        # rescan each for a lateral join's outer rows); older servers show no count.
        analyzed = c.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT q.i, (SELECT id FROM smoke ORDER BY embedding <=> q.v"
            " LIMIT 1) FROM (VALUES (1, %s::vector), (2, %s::vector), (3, %s::vector)) q(i, v)",
            tuple(queries[:3])).fetchone()[0][0]["Plan"]
        scan = analyzed["Plans"][0]["Plans"][0]
        assert scan["Index Name"] == "smoke_embedding", scan
        assert scan.get("Index Searches") == (3 if int(version) >= 180000 else None), scan
        recall = recall_at_10(c, queries[:200], truth[:200])
        assert recall >= 0.95, recall

        # Inserts (the queries as new rows, so each one's nearest row is itself), a
        # DELETE of a seventh of the rows and VACUUM, which frees their slots.
        first_new = len(base)
        copy_rows(c, "smoke", [(first_new + i, q) for i, q in enumerate(queries[:300])])
        c.execute("DELETE FROM smoke WHERE id % 7 = 0")
        c.execute("VACUUM smoke")
        assert c.execute("SELECT * FROM hnsw_pg_check('smoke_embedding')").fetchall() == []
        nearest = c.execute("SELECT id FROM smoke ORDER BY embedding <=> %s LIMIT 1",
                            (queries[1],)).fetchone()[0]
        assert nearest == first_new + 1
        # Inserts into the freed slots, then one more that stays uncommitted at the crash.
        copy_rows(c, "smoke", [(20000 + i, q) for i, q in enumerate(queries[300:400])])
        expected = {row[0] for row in c.execute("SELECT id FROM smoke").fetchall()}
        assert reachable(c, "smoke", dim, "embedding", "<=>") == expected

    crash_during_insert("smoke", 99999, dim)

    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        assert {row[0] for row in c.execute("SELECT id FROM smoke").fetchall()} == expected
        assert reachable(c, "smoke", dim, "embedding", "<=>") == expected
        assert c.execute("SELECT * FROM hnsw_pg_check('smoke_embedding')").fetchall() == []
        c.execute("INSERT INTO smoke VALUES (30000, %s)", (np.full(dim, 0.5, np.float32),))
        nearest = c.execute("SELECT id FROM smoke ORDER BY embedding <=> %s LIMIT 1",
                            (np.full(dim, 0.5, np.float32),)).fetchone()[0]
        assert nearest == 30000
        c.execute("SET hnsw.ef_search = 40")
        # The base rows left, against exact neighbours among them.
        c.execute("DELETE FROM smoke WHERE id >= %s", (first_new,))
        kept = [[i for i in t if i % 7 != 0] for t in truth[:200]]
        assert recall_at_10(c, queries[:200], np.array([k[:10] for k in kept])) >= 0.95


def test_filter_columns_and_their_array_quals():
    """A multicolumn index's quals on every version: `= ANY` and `< ANY` on the column
    after the vector are Index Conds from 17 on (15 and 16 keep them as Filters to keep
    the index's order), ranges on every version; the rows are the exact filtered order."""
    rng = np.random.default_rng(8)
    n, dim = 3000, 8
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        version = int(c.execute("SHOW server_version_num").fetchone()[0])
        c.execute("DROP TABLE IF EXISTS tagged")
        c.execute(f"CREATE TABLE tagged (id int, tag bigint, v vector({dim}))")
        with c.cursor() as cur:
            with cur.copy("COPY tagged FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "int8", "vector"])
                for i in range(n):
                    copy.write_row((i, i % 50, vectors[i]))
        c.execute("CREATE INDEX tagged_v ON tagged USING hnsw (v vector_l2_ops, tag)")
        c.execute("ANALYZE tagged")
        c.execute("SET enable_seqscan = off")
        q = rng.standard_normal(dim).astype(np.float32)
        tags = np.arange(n) % 50
        for where, passes, array in [
            ("tag = ANY('{3,17}'::int[])", np.isin(tags, [3, 17]), True),
            ("tag < ANY('{2,4}'::int[])", tags < 4, True),
            ("tag >= 48", tags >= 48, False),
            ("tag BETWEEN 10 AND 11", (tags >= 10) & (tags <= 11), False),
        ]:
            sql = f"SELECT id FROM tagged WHERE {where} ORDER BY v <-> %s LIMIT 20"
            plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + sql, (q,)).fetchall())
            if not array or version >= 170000:
                assert "Index Cond" in plan and "Filter" not in plan, f"{where}: {plan}"
            found = [r[0] for r in c.execute(sql, (q,)).fetchall()]
            passing = np.flatnonzero(passes)
            order = passing[np.argsort(((vectors[passing] - q) ** 2).sum(axis=1), kind="stable")]
            assert found == order[:20].tolist(), where
        c.execute("DROP TABLE tagged")
