"""The latency of a k-NN query over three postgres_fdw shards against one instance holding
the same rows (`make bench-shards`): GloVe 6B 50d (cosine), 10k and 100k rows, four
throwaway clusters on loopback (a coordinator on port 55470 and shards on 55471-55473,
each with hnsw_pg and its own index), LIMIT 10, ef_search 40. The forms measured:

- one instance: the table with every row and its index, on the coordinator;
- Merge Append: the partitioned table of foreign tables, as a user writes the query
  (postgres_fdw's default fetch_size 100, then 10);
- async UNION ALL: each shard's ORDER BY ... LIMIT 10 in a subquery (run on the shard),
  under an Append that runs the shards at once (`async_capable`), merged on the
  coordinator.

Prints a table (median and p90 latency, queries/s on one connection, recall@10 against
exact search) and writes bench/results/shards.{md,json}. Each shard's share of one query
comes from EXPLAIN ANALYZE on the coordinator, and the statements each query sends a shard
(each a round trip) from that shard's statement log. The foreign servers have
`parallel_commit`, so the shards' COMMITs go out together."""

import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

import datasets
from truth import cached_knn, recall

REPO = pathlib.Path(__file__).resolve().parents[1]
COORDINATOR, SHARDS = 55470, (55471, 55472, 55473)
# SHARD_BENCH_SIZES=2000 (comma-separated) for a quick try.
SIZES = tuple(int(x) for x in os.environ.get("SHARD_BENCH_SIZES", "10000,100000").split(","))
QUERIES = 300


def cluster(command, port):
    args = ["bash", "scripts/pgcluster.sh", command, f"/tmp/hnsw_pg-shards-{port}"]
    subprocess.run(args + ([str(port)] if command == "start" else []), check=True, cwd=REPO)


def connect(port, dbname="bench", vector=True):
    """A connection to the cluster on `port`; with `vector`, pgvector's types registered
    (the database must have the extension)."""
    c = psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=dbname, autocommit=True)
    if vector:
        register_vector(c)
    return c


def copy(c, table, rows):
    with c.cursor() as cur:
        with cur.copy(f"COPY {table} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as cp:
            cp.set_types(["int4", "vector"])
            for i, v in rows:
                cp.write_row((i, v))


def set_up(base):
    dim = base.shape[1]
    for port in (COORDINATOR, *SHARDS):
        with connect(port, "postgres", vector=False) as c:
            c.execute("DROP DATABASE IF EXISTS bench")
            c.execute("CREATE DATABASE bench")
        with connect(port, "bench", vector=False) as c:
            c.execute("CREATE EXTENSION hnsw_pg")
            if port != COORDINATOR:
                c.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({dim}))")
    with connect(COORDINATOR) as c:
        c.execute("CREATE EXTENSION postgres_fdw")
        c.execute(f"CREATE TABLE items (id int, embedding vector({dim})) PARTITION BY HASH (id)")
        for i, port in enumerate(SHARDS):
            c.execute(f"CREATE SERVER shard{i} FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1',"
                      f" port '{port}', dbname 'bench', extensions 'hnsw_pg', batch_size '1000',"
                      " parallel_commit 'true')")
            c.execute(f"CREATE USER MAPPING FOR postgres SERVER shard{i} OPTIONS (user 'postgres')")
            c.execute(f"CREATE FOREIGN TABLE items_{i} PARTITION OF items FOR VALUES WITH"
                      f" (MODULUS {len(SHARDS)}, REMAINDER {i}) SERVER shard{i} OPTIONS (table_name 'items')")
        copy(c, "items", enumerate(base))
        c.execute(f"CREATE TABLE everything (id int PRIMARY KEY, embedding vector({dim}))")
        copy(c, "everything", enumerate(base))
        c.execute("CREATE INDEX ON everything USING hnsw (embedding vector_cosine_ops)")
        c.execute("VACUUM ANALYZE everything")
    for port in SHARDS:
        with connect(port) as c:
            c.execute("CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)")
            c.execute("VACUUM ANALYZE items")
            # As the README sets shards up: plan postgres_fdw's cursors for few rows.
            c.execute("ALTER DATABASE bench SET cursor_tuple_fraction = 0.01")


def union_sql(k=10):
    parts = " UNION ALL ".join(
        f"(SELECT id, embedding <=> %(q)s AS d FROM items_{i} ORDER BY embedding <=> %(q)s LIMIT {k})"
        for i in range(len(SHARDS)))
    # `d + 0`, not `d`: from 17 on the planner would merge the shards' ordered results
    # (a Merge Append, which reads them one after another); a key their order does not
    # give keeps a plain Append, which runs them at once, and a sort of the 3k rows.
    return f"SELECT id FROM ({parts}) s ORDER BY d + 0, id LIMIT {k}"


FORMS = {
    "one instance": ("SELECT id FROM everything ORDER BY embedding <=> %(q)s LIMIT 10", None),
    "Merge Append, fetch_size 100": ("SELECT id FROM items ORDER BY embedding <=> %(q)s LIMIT 10", "100"),
    "Merge Append, fetch_size 10": ("SELECT id FROM items ORDER BY embedding <=> %(q)s LIMIT 10", "10"),
    "async UNION ALL": (union_sql(), "async"),
}


def configure(c, how):
    for i in range(len(SHARDS)):
        options = c.execute("SELECT srvoptions FROM pg_foreign_server WHERE srvname = %s",
                            (f"shard{i}",)).fetchone()[0]
        for name in ("fetch_size", "async_capable"):
            if any(o.startswith(name + "=") for o in options):
                c.execute(f"ALTER SERVER shard{i} OPTIONS (DROP {name})")
        if how == "async":
            c.execute(f"ALTER SERVER shard{i} OPTIONS (ADD async_capable 'true')")
        elif how:
            c.execute(f"ALTER SERVER shard{i} OPTIONS (ADD fetch_size '{how}')")


def shard_times(c, sql, q):
    """Each foreign scan's actual total time (ms) in one EXPLAIN ANALYZE of the query."""
    plan = c.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, {"q": q}).fetchone()[0][0]
    times = []

    def walk(node):
        if node["Node Type"] == "Foreign Scan":
            times.append(node["Actual Total Time"])
        for child in node.get("Plans", []):
            walk(child)
    walk(plan["Plan"])
    return times, plan["Execution Time"]


def round_trips(sql, queries):
    """What one query costs shard0: the statements the coordinator sends it per query
    (each one round trip; a DECLARE's parse, bind and execute go in one) and their mean
    server time, from shard0's statement log over `queries`, on a warmed connection."""
    log = pathlib.Path(f"/tmp/hnsw_pg-shards-{SHARDS[0]}/server.log")
    with connect(SHARDS[0]) as shard, connect(COORDINATOR) as c:
        for q in queries[:5]:
            c.execute(sql, {"q": q}, prepare=True).fetchall()
        shard.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
        shard.execute("SELECT pg_reload_conf()")
        time.sleep(0.2)
        start = log.stat().st_size
        for q in queries:
            c.execute(sql, {"q": q}, prepare=True).fetchall()
        shard.execute("ALTER SYSTEM RESET log_min_duration_statement")
        shard.execute("SELECT pg_reload_conf()")
    with log.open("rb") as f:
        f.seek(start)
        lines = f.read().decode(errors="replace").splitlines()
    steps = {}
    for line in lines:
        if "duration: " not in line or "log_min_duration" in line or "pg_reload_conf" in line:
            continue
        ms = float(line.split("duration: ")[1].split(" ms")[0])
        # "statement: FETCH 100 FROM c1", or "parse <unnamed>: DECLARE c1 CURSOR FOR"
        phase, text = line.split(" ms  ", 1)[1].split(": ", 1)
        phase = phase.split(" ")[0]
        step = text.split(" ")[0]
        count, total = steps.get(step, (0, 0.0))
        steps[step] = (count + (phase in ("statement", "execute")), total + ms)
    return {step: {"per_query": count / len(queries), "server_ms": total / max(count, 1)}
            for step, (count, total) in steps.items()}


def measure(base, queries, truth):
    rows = []
    for name, (sql, how) in FORMS.items():
        with connect(COORDINATOR) as admin:
            configure(admin, how)
        # A new connection, so its connections to the shards take the new options.
        with connect(COORDINATOR) as c:
            for q in queries[:20]:
                c.execute(sql, {"q": q}, prepare=True).fetchall()
            found, lat = [], []
            for q in queries:
                started = time.perf_counter()
                found.append([r[0] for r in c.execute(sql, {"q": q}, prepare=True).fetchall()])
                lat.append(time.perf_counter() - started)
            per_shard, execution = shard_times(c, sql, queries[0])
        lat = np.array(lat) * 1000
        rows.append({"form": name, "rows": len(base), "p50_ms": float(np.median(lat)),
                     "p90_ms": float(np.percentile(lat, 90)), "qps": len(queries) / (lat.sum() / 1000),
                     "recall": recall(found, truth), "shard_scan_ms": per_shard,
                     "explain_execution_ms": execution})
        r = rows[-1]
        if how is not None:
            r["shard0_round_trips"] = round_trips(sql, queries[:20])
        print(f"  {len(base):>7,} rows  {name:30s} p50 {r['p50_ms']:6.2f} ms  p90 {r['p90_ms']:6.2f} ms"
              f"  {r['qps']:6.0f} q/s  recall {r['recall']:.3f}  foreign scans (ms) "
              + ", ".join(f"{t:.2f}" for t in per_shard), flush=True)
        if "shard0_round_trips" in r:
            print("      shard0 per query: " + ", ".join(
                f"{step} x{v['per_query']:.1f} ({v['server_ms']:.3f} ms)"
                for step, v in r["shard0_round_trips"].items()), flush=True)
    with connect(COORDINATOR) as admin:
        configure(admin, None)
    return rows


def main():
    pool, queries, metric, source = datasets.glove()
    queries = queries[:QUERIES]
    results = []
    try:
        for port in (COORDINATOR, *SHARDS):
            cluster("stop", port)
            cluster("start", port)
        for size in SIZES:
            base = pool[:size]
            truth, _ = cached_knn(f"glove-{size}", base, queries, metric)
            print(f"{size:,} rows of GloVe 50d: loading", flush=True)
            set_up(base)
            results += measure(base, queries, truth)
    finally:
        for port in (COORDINATOR, *SHARDS):
            cluster("stop", port)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "shards.json").write_text(json.dumps({"source": source, "results": results}, indent=1) + "\n")
    lines = ["# k-NN over three postgres_fdw shards against one instance", "",
             f"{source}; LIMIT 10, ef_search 40, {QUERIES} queries on one connection (prepared), loopback;"
             f" PostgreSQL {os.environ.get('PG_VERSION_LABEL', '15')}.", "",
             "| rows | form | p50 ms | p90 ms | queries/s | recall@10 | foreign scans in one query (ms) |",
             "|---:|---|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r['rows']:,} | {r['form']} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['qps']:,.0f} |"
                     f" {r['recall']:.3f} | {', '.join(f'{t:.2f}' for t in r['shard_scan_ms'])} |")
    lines += ["", "Statements the coordinator sends shard0 per query (each one round trip), with their mean"
              " server time:", "", "| rows | form | statements |", "|---:|---|---|"]
    for r in results:
        if "shard0_round_trips" in r:
            lines.append(f"| {r['rows']:,} | {r['form']} | " + ", ".join(
                f"{step} x{v['per_query']:.1f} ({v['server_ms']:.3f} ms)"
                for step, v in r["shard0_round_trips"].items()) + " |")
    (out / "shards.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
