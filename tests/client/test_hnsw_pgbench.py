"""pgbench: clients insert, query and delete at once on one hnsw index, with a VACUUM now
and then, for a bounded time. No transaction may fail (no error, no deadlock); afterwards
hnsw_pg_check finds nothing (every live row has an entry and is reachable) and recall@10
at ef_search 40 against exact search over the rows left holds."""

import os
import pathlib
import re
import subprocess

import datasets
import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from tables import copy_rows

WORDNET = "wordnet-minilm-384-10k"
SCRIPTS = pathlib.Path(__file__).resolve().parent / "pgbench"
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
SECONDS = int(os.environ.get("HNSW_PG_PGBENCH_SECONDS", "40"))


def test_pgbench_mixed_load():
    base = datasets.base(WORDNET)
    queries = datasets.queries(WORDNET)
    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        for t in ("bench_items", "bench_source", "bench_queries"):
            c.execute(f"DROP TABLE IF EXISTS {t}")
        c.execute("DROP SEQUENCE IF EXISTS bench_ids")
        c.execute("CREATE TABLE bench_source (id int PRIMARY KEY, embedding vector(384))")
        c.execute("CREATE TABLE bench_queries (id int PRIMARY KEY, embedding vector(384))")
        c.execute("CREATE TABLE bench_items (id int PRIMARY KEY, embedding vector(384))")
        c.execute("CREATE SEQUENCE bench_ids START 5000")
        copy_rows(c, "bench_source", enumerate(base))
        copy_rows(c, "bench_queries", enumerate(queries))
        copy_rows(c, "bench_items", enumerate(base[:5000]))
        c.execute("CREATE INDEX bench_items_embedding ON bench_items USING hnsw (embedding vector_cosine_ops)")

    run = subprocess.run(
        [PGBENCH, "--no-vacuum", "-c", "4", "-j", "2", "-T", str(SECONDS),
         "-f", f"{SCRIPTS / 'insert.sql'}@40", "-f", f"{SCRIPTS / 'query.sql'}@40",
         "-f", f"{SCRIPTS / 'delete.sql'}@20", "-f", f"{SCRIPTS / 'vacuum.sql'}@1"],
        capture_output=True, text=True, timeout=SECONDS + 120)
    print(run.stdout[-3000:], run.stderr[-3000:])
    assert run.returncode == 0, run.stderr
    done = int(re.search(r"number of transactions actually processed: (\d+)", run.stdout)[1])
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    assert done > 100
    assert failed is None or int(failed[1]) == 0
    for script in ("insert", "query", "delete", "vacuum"):
        ran = re.search(rf"SQL script \d+: \S*{script}\.sql\n - weight: \d+ \([^)]*\)\n - (\d+) transactions", run.stdout)
        assert ran and int(ran[1]) > 0, f"{script}.sql never ran"

    with psycopg.connect(autocommit=True) as c:
        register_vector(c)
        c.execute("VACUUM bench_items")
        assert c.execute("SELECT * FROM hnsw_pg_check('bench_items_embedding')").fetchall() == []
        rows = c.execute("SELECT id, embedding FROM bench_items").fetchall()
        ids = np.array([r[0] for r in rows])
        vecs = np.array([r[1].to_numpy() for r in rows])
        unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        qs = queries[:200]
        qunit = qs / np.linalg.norm(qs, axis=1, keepdims=True)
        # Inserts copy source rows, so exact ties abound: a returned row is a hit when it is
        # no farther than the true 10th nearest.
        similarity = qunit @ unit.T
        tenth = -np.sort(-similarity, axis=1)[:, 9]
        row_of = {int(i): k for k, i in enumerate(ids)}
        c.execute("SET hnsw.ef_search = 40")
        hits = 0
        for n, q in enumerate(qs):
            found = [r[0] for r in c.execute(
                "SELECT id FROM bench_items ORDER BY embedding <=> %s LIMIT 10", (q,), prepare=True)]
            hits += sum(similarity[n, row_of[f]] >= tenth[n] - 1e-6 for f in found)
        recall = hits / (10 * len(qs))
        print(f"pgbench: {done} transactions in {SECONDS} s, {len(ids)} rows left, recall@10 {recall:.3f}")
        assert recall >= 0.95
