"""hnsw_pg inside PostgreSQL: load, build, query sweeps, inserts, VACUUM, REINDEX.

Connects with the PG* environment variables (scripts/with_cluster.sh sets them). The bench
runs as root on the server's machine, so it can read the backend's /proc entry."""

import os
import threading
import time

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from progress import percent, say
from truth import recall

OPS = {"cosine": ("vector_cosine_ops", "<=>"), "l2": ("vector_l2_ops", "<->")}
TABLE = "items"
MIB = 2**20


def connect():
    conn = psycopg.connect(autocommit=True)
    register_vector(conn)
    return conn


def knn_sql(metric):
    return f"SELECT id FROM {TABLE} ORDER BY embedding {OPS[metric][1]} %s LIMIT 10"


def server_info(conn):
    return {"server": conn.execute("SHOW server_version").fetchone()[0],
            "shared_buffers": conn.execute("SHOW shared_buffers").fetchone()[0],
            "hnsw_pg": conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'hnsw_pg'").fetchone()[0]}


def load(conn, ds):
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.execute(f"CREATE TABLE {TABLE} (id int, embedding vector({ds.dim}))")
    started = time.perf_counter()
    with conn.cursor() as cur:
        with cur.copy(f"COPY {TABLE} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i in percent(range(len(ds.base)), "binary COPY", every=0.25):
                copy.write_row((i, ds.base[i]))
    seconds = time.perf_counter() - started
    # Sets hint bits and the visibility map now, so the first build does not pay for them.
    conn.execute(f"VACUUM (ANALYZE) {TABLE}")
    return {"rows": len(ds.base), "seconds": seconds,
            "table_mib": conn.execute(f"SELECT pg_table_size('{TABLE}')").fetchone()[0] / MIB}


def proc_status(pid):
    """VmRSS, RssAnon, VmHWM... of a process, in MiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                out[key] = int(value.split()[0]) / 1024
    return out


class BuildWatch(threading.Thread):
    """During CREATE INDEX: peak memory of the backend (the build's threads live inside it)
    every 20 ms, and the graph phase's progress from pg_stat_progress_create_index."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop, self.peak_rss, self.peak_anon = pid, threading.Event(), 0.0, 0.0

    def run(self):
        last_report = time.perf_counter()
        with connect() as observer:
            while not self.stop.wait(0.02):
                status = proc_status(self.pid)
                self.peak_rss = max(self.peak_rss, status.get("VmRSS", 0))
                self.peak_anon = max(self.peak_anon, status.get("RssAnon", 0))
                if time.perf_counter() - last_report >= 2:
                    last_report = time.perf_counter()
                    row = observer.execute(
                        "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index"
                        " WHERE pid = %s", (self.pid,)).fetchone()
                    if row and row[2]:
                        say(f"      {row[0]}: {100 * row[1] // row[2]:3d}% ({row[1]:,}/{row[2]:,} tuples),"
                            f" RSS {status.get('VmRSS', 0):.0f} MiB")


def build(ds, index, m, ef_construction, threads):
    """CREATE INDEX on a fresh connection, so the backend's VmHWM is the build's peak."""
    opclass = OPS[ds.metric][0]
    with connect() as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute("SET maintenance_work_mem = '2GB'")
        # hnsw_pg builds with min(max_parallel_maintenance_workers + 1, cores) threads.
        conn.execute(f"SET max_parallel_maintenance_workers = {threads - 1}")
        conn.execute("CHECKPOINT")
        watch = BuildWatch(pid)
        watch.start()
        started = time.perf_counter()
        conn.execute(f"CREATE INDEX {index} ON {TABLE} USING hnsw (embedding {opclass})"
                     f" WITH (m = {m}, ef_construction = {ef_construction})")
        seconds = time.perf_counter() - started
        watch.stop.set()
        watch.join()
        hwm = proc_status(pid).get("VmHWM", 0)
        size = conn.execute("SELECT pg_relation_size(%s)", (index,)).fetchone()[0] / MIB
    return {"m": m, "ef_construction": ef_construction, "threads": min(threads, os.cpu_count()),
            "seconds": seconds, "size_mib": size, "peak_rss_mib": max(watch.peak_rss, hwm),
            "peak_anon_mib": watch.peak_anon, "vm_hwm_mib": hwm}


def drop(conn, index):
    conn.execute(f"DROP INDEX IF EXISTS {index}")


def run_queries(conn, sql, queries):
    found, latencies = [], []
    for q in queries:
        started = time.perf_counter()
        found.append([r[0] for r in conn.execute(sql, (q,), prepare=True).fetchall()])
        latencies.append(time.perf_counter() - started)
    return found, np.array(latencies)


def warm_up(conn, ds, queries):
    # Pulls the index into shared buffers and prepares the statement before timing.
    conn.execute("SET hnsw.ef_search = 40")
    run_queries(conn, knn_sql(ds.metric), queries[:200])


def sweep(conn, ds, queries, truth, efs, label, rounds=1):
    """Recall@10, queries/s and latency on one connection, for each hnsw.ef_search. With
    several rounds (passes over the queries) QPS is their median and latencies are pooled:
    one pass of a few hundred queries is short enough for noise to move QPS by 30%."""
    points = []
    for ef in efs:
        conn.execute(f"SET hnsw.ef_search = {ef}")
        rates, lat = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            found, round_lat = run_queries(conn, knn_sql(ds.metric), queries)
            rates.append(len(queries) / (time.perf_counter() - started))
            lat.extend(round_lat)
        qps = float(np.median(rates))
        point = {"ef": ef, "recall": recall(found, truth), "qps": qps, "qps_rounds": rates,
                 "p50_ms": 1000 * float(np.percentile(lat, 50)),
                 "p99_ms": 1000 * float(np.percentile(lat, 99))}
        points.append(point)
        say(f"      {label} ef_search {ef:4d}: recall@10 {point['recall']:.3f}, {qps:7.0f} queries/s,"
            f" p50 {point['p50_ms']:.2f} ms, p99 {point['p99_ms']:.2f} ms")
    return points


def parallel_round(conns, ds, queries, shares, ef):
    """One pass: each connection runs its share from its own thread, all starting together.
    Returns each connection's results and the wall time from the first start to the last end."""
    clients = len(conns)
    barrier, found, spans, errors = threading.Barrier(clients), [None] * clients, [None] * clients, []

    def work(c):
        try:
            conns[c].execute(f"SET hnsw.ef_search = {ef}")
            mine = queries[list(shares[c])]
            run_queries(conns[c], knn_sql(ds.metric), mine[:5])
            barrier.wait()
            started = time.perf_counter()
            found[c] = run_queries(conns[c], knn_sql(ds.metric), mine)[0]
            spans[c] = (started, time.perf_counter())
        except Exception as e:  # re-raised in the main thread
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return found, max(s[1] for s in spans) - min(s[0] for s in spans)


def sweep_parallel(ds, queries, truth, efs, clients=2, rounds=1):
    """Total queries/s with `clients` connections at once, each on its share of the queries
    from its own thread (psycopg releases the GIL while it waits for the server). QPS is
    the median over `rounds` passes."""
    conns = [connect() for _ in range(clients)]
    shares = [range(c, len(queries), clients) for c in range(clients)]
    points = []
    try:
        for ef in efs:
            rates = []
            for _ in range(rounds):
                found, wall = parallel_round(conns, ds, queries, shares, ef)
                rates.append(len(queries) / wall)
            merged = [None] * len(queries)
            for c in range(clients):
                for i, f in zip(shares[c], found[c]):
                    merged[i] = f
            point = {"ef": ef, "recall": recall(merged, truth), "qps": float(np.median(rates)),
                     "qps_rounds": rates}
            points.append(point)
            say(f"      {clients} connections ef_search {ef:4d}: recall@10 {point['recall']:.3f},"
                f" {point['qps']:7.0f} queries/s")
    finally:
        for c in conns:
            c.close()
    return points


def exact(conn, ds, queries, truth):
    """The floor: the same query with no index scan (a sequential scan and top-10 sort)."""
    conn.execute("SET enable_indexscan = off")
    try:
        run_queries(conn, knn_sql(ds.metric), queries[:2])
        started = time.perf_counter()
        found, lat = run_queries(conn, knn_sql(ds.metric), queries)
        qps = len(queries) / (time.perf_counter() - started)
    finally:
        conn.execute("RESET enable_indexscan")
    return {"queries": len(queries), "recall": recall(found, truth), "qps": qps,
            "p50_ms": 1000 * float(np.percentile(lat, 50))}


def inserts(conn, ds):
    """Single-row INSERTs, one transaction each, of rows the build did not see."""
    first = len(ds.base)
    started = time.perf_counter()
    for j in percent(range(len(ds.extra)), "single-row inserts"):
        conn.execute(f"INSERT INTO {TABLE} (id, embedding) VALUES (%s, %s)",
                     (first + j, ds.extra[j]), prepare=True)
    seconds = time.perf_counter() - started
    return {"rows": len(ds.extra), "seconds": seconds, "rows_per_s": len(ds.extra) / seconds}


def delete_and_vacuum(conn):
    """Deletes every tenth id (10% spread over the graph), then VACUUM repairs the index."""
    started = time.perf_counter()
    deleted = conn.execute(f"DELETE FROM {TABLE} WHERE id % 10 = 0").rowcount
    delete_s = time.perf_counter() - started
    conn.execute("CHECKPOINT")
    started = time.perf_counter()
    conn.execute(f"VACUUM {TABLE}")
    return {"deleted": deleted, "delete_s": delete_s, "vacuum_s": time.perf_counter() - started}


def live_ids(conn):
    return np.array(sorted(r[0] for r in conn.execute(f"SELECT id FROM {TABLE}").fetchall()))


def check(conn, index):
    """hnsw_pg_check's problems (one row each); none expected."""
    return [r[0] for r in conn.execute("SELECT * FROM hnsw_pg_check(%s)", (index,)).fetchall()]


def reindex(conn, index, threads=2):
    """REINDEX with the same settings as the timed 2-thread build, for comparison with VACUUM."""
    conn.execute("SET maintenance_work_mem = '2GB'")
    conn.execute(f"SET max_parallel_maintenance_workers = {threads - 1}")
    conn.execute("CHECKPOINT")
    started = time.perf_counter()
    conn.execute(f"REINDEX INDEX {index}")
    seconds = time.perf_counter() - started
    size = conn.execute("SELECT pg_relation_size(%s)", (index,)).fetchone()[0] / MIB
    return {"seconds": seconds, "threads": min(threads, os.cpu_count()), "size_mib": size}
