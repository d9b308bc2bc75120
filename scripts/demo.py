"""`make demo`: load GloVe vectors into Postgres, run k-NN queries, report recall.

Connects with PGHOST/PGPORT/PGDATABASE (set by scripts/with_cluster.sh). The index access
method is not built yet, so queries use exact search; recall is measured against the data
set's own ground truth."""

import os
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "glove-6b-50-10k")
K = 10
QUERIES = 200


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

        sql = "SELECT id, embedding <=> %s AS distance FROM words ORDER BY embedding <=> %s LIMIT %s"
        print(f"\n{sql}\n")
        for q in range(3):
            rows = conn.execute(sql, (queries[q], queries[q], 5)).fetchall()
            shown = ", ".join(f"{i} ({d:.4f})" for i, d in rows)
            print(f"query {q}: {shown}")

        hits = 0
        started = time.perf_counter()
        for q in range(QUERIES):
            rows = conn.execute(sql, (queries[q], queries[q], K)).fetchall()
            hits += len({r[0] for r in rows} & set(truth[q, :K].tolist()))
        elapsed = time.perf_counter() - started
        recall = hits / (QUERIES * K)
        print(f"\nexact search: recall@{K} = {recall:.4f} over {QUERIES} queries, "
              f"{QUERIES / elapsed:.0f} queries/s on one connection")
        if recall < 0.99:
            raise SystemExit("exact search should find the true neighbours")


if __name__ == "__main__":
    main()
