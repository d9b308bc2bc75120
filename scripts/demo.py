"""`make demo`: load GloVe vectors into Postgres, build an hnsw index, run k-NN queries,
and report recall against the data set's exact ground truth, with and without the index.

Connects with PGHOST/PGPORT/PGDATABASE (set by scripts/with_cluster.sh)."""

import os
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "glove-6b-50-10k")
K = 10
QUERIES = 200
SQL = "SELECT id, embedding <=> %s AS distance FROM words ORDER BY embedding <=> %s LIMIT %s"


def measure(conn, queries, truth):
    """Mean recall@K and queries/s over the first QUERIES queries."""
    hits, started = 0, time.perf_counter()
    for q in range(QUERIES):
        rows = conn.execute(SQL, (queries[q], queries[q], K), prepare=True).fetchall()
        hits += len({r[0] for r in rows} & set(truth[q, :K].tolist()))
    return hits / (QUERIES * K), QUERIES / (time.perf_counter() - started)


def show(conn, queries):
    for q in range(3):
        rows = conn.execute(SQL, (queries[q], queries[q], 5)).fetchall()
        print(f"  query {q}: " + ", ".join(f"{i} ({d:.4f})" for i, d in rows))


def main():
    base = np.load(os.path.join(DATA, "base.npy")).astype(np.float32)
    queries = np.load(os.path.join(DATA, "query.npy")).astype(np.float32)
    truth = np.load(os.path.join(DATA, "gt_ids.npy"))
    print(f"data: GloVe 6B 50d, {len(base)} vectors of {base.shape[1]} dims, cosine distance")

    with psycopg.connect(autocommit=True) as conn:
        register_vector(conn)
        kernel = conn.execute("SELECT hnsw_pg_kernel()").fetchone()[0]
        print(f"extension: hnsw_pg, distance kernels: {kernel}")
        conn.execute("DROP TABLE IF EXISTS words")
        conn.execute("CREATE TABLE words (id int PRIMARY KEY, embedding vector(50))")
        started = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy("COPY words (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "vector"])
                for i, v in enumerate(base):
                    copy.write_row((i, v))
        print(f"loaded {len(base)} rows with binary COPY in {time.perf_counter() - started:.2f} s")
        conn.execute("ANALYZE words")

        print(f"\n{SQL}\n\nexact search (no index):")
        show(conn, queries)
        exact_recall, exact_qps = measure(conn, queries, truth)

        started = time.perf_counter()
        conn.execute("CREATE INDEX ON words USING hnsw (embedding vector_cosine_ops)")
        print(f"\nCREATE INDEX ON words USING hnsw (embedding vector_cosine_ops): "
              f"{time.perf_counter() - started:.2f} s")
        conn.execute("SET hnsw.ef_search = 40")
        plan = conn.execute("EXPLAIN (COSTS OFF) " + SQL, (queries[0], queries[0], K)).fetchall()
        print("plan: " + " / ".join(row[0].strip() for row in plan[:2]))
        print("\nwith the hnsw index (hnsw.ef_search = 40):")
        show(conn, queries)
        index_recall, index_qps = measure(conn, queries, truth)

        print(f"\nrecall@{K} over {QUERIES} queries, one connection:")
        print(f"  exact search: {exact_recall:.4f} at {exact_qps:.0f} queries/s")
        print(f"  hnsw index:   {index_recall:.4f} at {index_qps:.0f} queries/s")
        if "Index Scan" not in " ".join(row[0] for row in plan):
            raise SystemExit("the planner did not use the index")
        if exact_recall < 0.99 or index_recall < 0.9:
            raise SystemExit("recall is lower than it should be")


if __name__ == "__main__":
    main()
