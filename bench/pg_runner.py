"""The indexes inside PostgreSQL: load, build, query sweeps, filtered queries, inserts,
VACUUM, REINDEX, for each engine (hnsw_pg, and pgvector when the server has it) in a
database of its own on the same cluster, so both run the same SQL on the same data in one
run. Steps that time both engines alternate between them pass by pass, so the machine's
drift over minutes falls on both alike.

Connects with the PG* environment variables (scripts/with_cluster.sh sets them). The bench
runs as root on the server's machine, so it can read the backends' /proc entries."""

import os
import threading
import time
from dataclasses import dataclass

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from progress import percent, say
from truth import recall

OPS = {"cosine": ("vector_cosine_ops", "<=>"), "l2": ("vector_l2_ops", "<->")}
TABLE = "items"
MIB = 2**20
# Filtered queries: the rows whose category is below the bound (category = id % 1000).
FILTERS = {"50%": 500, "10%": 100, "1%": 10, "0.1%": 1, "none": 0}
# Label filters, where the set has classes (label = the row's class): each query's own
# class, and another one (its class + 5, mod 10).
LABEL_FILTERS = {"own class": 0, "other class": 5}
# The plans of a filtered query: the planner's choice, and each one forced. Without a
# btree on the filter column: the hnsw index (sequential scans off) or the exact plan (a
# sequential scan and a sort; index scans off).
PLAN_VARIANTS = {"chosen": {}, "index": {"enable_seqscan": "off"}, "exact": {"enable_indexscan": "off"}}
# With a btree on it: the hnsw index (sorts off, so no plan that sorts can win), a bitmap
# scan of the btree and a sort, or a sequential scan and a sort.
BTREE_VARIANTS = {"chosen": {}, "index": {"enable_sort": "off"},
                  "bitmap": {"enable_indexscan": "off", "enable_seqscan": "off"},
                  "exact": {"enable_indexscan": "off", "enable_bitmapscan": "off"}}
# A forced plan stops after this many seconds (and at least FORCED_MIN queries): exact
# plans over 784-d rows take 150 ms a query.
FORCED_BUDGET_S, FORCED_MIN = 4.0, 20
BTREES = {"category": "items_category_btree", "label": "items_label_btree"}


@dataclass(frozen=True)
class Filter:
    where: str  # the WHERE clause; a %s in it takes `args[i]` for query i
    args: object  # one value per query, or None
    truth: object  # exact filtered neighbours per query, or None when no row passes
EXPLAINED = 100  # queries per ef whose server-side time EXPLAIN ANALYZE measures


@dataclass(frozen=True)
class Engine:
    name: str  # "hnsw_pg" or "pgvector"
    database: str
    extension: str  # the extension's name in pg_extension

    def connect(self):
        conn = psycopg.connect(dbname=self.database, autocommit=True)
        register_vector(conn)
        return conn


def engines(pgvector_database=None):
    """hnsw_pg in the cluster's database (PGDATABASE), and pgvector in a database of its own
    made here when `pgvector_database` is given (its server must carry pgvector)."""
    ours = Engine("hnsw_pg", os.environ["PGDATABASE"], "hnsw_pg")
    if not pgvector_database:
        return [ours]
    with ours.connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{pgvector_database}"')
        conn.execute(f'CREATE DATABASE "{pgvector_database}"')
    with psycopg.connect(dbname=pgvector_database, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    return [ours, Engine("pgvector", pgvector_database, "vector")]


def knn_sql(metric, where=""):
    return f"SELECT id FROM {TABLE} {where} ORDER BY embedding {OPS[metric][1]} %s LIMIT 10"


def server_info(conn, engines_):
    info = {"server": conn.execute("SHOW server_version").fetchone()[0],
            "shared_buffers": conn.execute("SHOW shared_buffers").fetchone()[0]}
    for e in engines_:
        with e.connect() as c:
            info[e.name] = c.execute("SELECT extversion FROM pg_extension WHERE extname = %s",
                                     (e.extension,)).fetchone()[0]
    return info


def load(conn, ds):
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    labelled = ds.base_labels is not None
    conn.execute(f"CREATE TABLE {TABLE} (id int, embedding vector({ds.dim}),"
                 f" category int GENERATED ALWAYS AS (id % 1000) STORED"
                 f"{', label int' if labelled else ''})")
    started = time.perf_counter()
    columns = "id, embedding, label" if labelled else "id, embedding"
    with conn.cursor() as cur:
        with cur.copy(f"COPY {TABLE} ({columns}) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector", "int4"] if labelled else ["int4", "vector"])
            for i in percent(range(len(ds.base)), "binary COPY", every=0.25):
                copy.write_row((i, ds.base[i], int(ds.base_labels[i])) if labelled else (i, ds.base[i]))
    seconds = time.perf_counter() - started
    # Sets hint bits and the visibility map now, so the first build does not pay for them.
    conn.execute(f"VACUUM (ANALYZE) {TABLE}")
    return {"rows": len(ds.base), "seconds": seconds,
            "table_mib": conn.execute(f"SELECT pg_table_size('{TABLE}')").fetchone()[0] / MIB}


def proc_status(pid):
    """VmRSS, RssAnon, VmHWM... of a process, in MiB (empty once it has exited)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if value.strip().endswith("kB"):
                    out[key] = int(value.split()[0]) / 1024
    except FileNotFoundError:
        pass
    return out


class BuildWatch(threading.Thread):
    """During CREATE INDEX: peak memory of the backend and of its parallel workers (hnsw_pg
    builds on threads inside the backend, pgvector in worker processes), summed over the
    processes every 20 ms, and the build's progress from pg_stat_progress_create_index."""

    def __init__(self, engine, pid):
        super().__init__(daemon=True)
        self.engine, self.pid, self.stop = engine, pid, threading.Event()
        self.peak_rss, self.peak_anon, self.workers = 0.0, 0.0, set()

    def run(self):
        last_report = time.perf_counter()
        with self.engine.connect() as observer:
            while not self.stop.wait(0.02):
                workers = [r[0] for r in observer.execute(
                    "SELECT pid FROM pg_stat_activity WHERE leader_pid = %s", (self.pid,)).fetchall()]
                self.workers.update(workers)
                status = [proc_status(p) for p in [self.pid, *workers]]
                self.peak_rss = max(self.peak_rss, sum(s.get("VmRSS", 0) for s in status))
                self.peak_anon = max(self.peak_anon, sum(s.get("RssAnon", 0) for s in status))
                if time.perf_counter() - last_report >= 2:
                    last_report = time.perf_counter()
                    row = observer.execute(
                        "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index"
                        " WHERE pid = %s", (self.pid,)).fetchone()
                    if row and row[2]:
                        say(f"      {self.engine.name} {row[0]}: {100 * row[1] // row[2]:3d}%"
                            f" ({row[1]:,}/{row[2]:,} tuples), RSS {status[0].get('VmRSS', 0):.0f} MiB")


def build(engine, ds, index, m, ef_construction, threads, options=""):
    """CREATE INDEX on a fresh connection, so the backend's VmHWM is the build's peak;
    `options` adds reloptions (", quantization = 'sq8'")."""
    opclass = OPS[ds.metric][0]
    with engine.connect() as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute("SET maintenance_work_mem = '2GB'")
        # hnsw_pg builds with min(max_parallel_maintenance_workers + 1, cores) threads,
        # pgvector with that many processes (the leader takes part).
        conn.execute(f"SET max_parallel_maintenance_workers = {threads - 1}")
        conn.execute("CHECKPOINT")
        watch = BuildWatch(engine, pid)
        watch.start()
        started = time.perf_counter()
        conn.execute(f"CREATE INDEX {index} ON {TABLE} USING hnsw (embedding {opclass})"
                     f" WITH (m = {m}, ef_construction = {ef_construction}{options})")
        seconds = time.perf_counter() - started
        watch.stop.set()
        watch.join()
        hwm = proc_status(pid).get("VmHWM", 0)
        size = conn.execute("SELECT pg_relation_size(%s)", (index,)).fetchone()[0] / MIB
    return {"m": m, "ef_construction": ef_construction, "options": options.lstrip(", "),
            "threads": min(threads, os.cpu_count()),
            "seconds": seconds, "size_mib": size, "peak_rss_mib": max(watch.peak_rss, hwm),
            "peak_anon_mib": watch.peak_anon, "vm_hwm_mib": hwm, "worker_processes": len(watch.workers)}


def heap_rows_per_query(conn, ds, queries, index, ef=40):
    """Rows the index returned per k-NN query at `ef` (pg_stat_user_indexes.idx_tup_read):
    a compact index returns rows until a lower bound passes the k-th distance, and the
    executor fetches each from the table to re-rank it."""
    def read():
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute("SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = %s",
                            (index,)).fetchone()[0]
    conn.execute(f"SET hnsw.ef_search = {ef}")
    before = read()
    run_queries(conn, knn_sql(ds.metric), queries)
    return (read() - before) / len(queries)


def drop(conn, index):
    conn.execute(f"DROP INDEX IF EXISTS {index}")


def run_queries(conn, sql, queries, args=None, budget_s=None, at_least=1):
    """Runs `sql` for each query (`args[i]`, when given, goes first), stopping early once
    `budget_s` seconds have passed and `at_least` queries have run."""
    found, latencies = [], []
    began = time.perf_counter()
    for i, q in enumerate(queries):
        started = time.perf_counter()
        params = (q,) if args is None else (args[i], q)
        found.append([r[0] for r in conn.execute(sql, params, prepare=True).fetchall()])
        latencies.append(time.perf_counter() - started)
        if budget_s is not None and i + 1 >= at_least and started - began > budget_s:
            break
    return found, np.array(latencies)


def server_ms(conn, sql, queries):
    """Median executor time per query in ms, from EXPLAIN ANALYZE (timing of plan nodes off):
    the time inside the server, without the client and the protocol."""
    times = [conn.execute(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {sql}", (q,)).fetchone()[0][0]
             ["Execution Time"] for q in queries]
    return float(np.median(times))


def set_all(conns, setting, value):
    for c in conns.values():
        c.execute(f"SET {setting} = {value}")


def warm_up(conns, ds, queries):
    # Pulls each index into shared buffers and prepares the statement before timing.
    set_all(conns, "hnsw.ef_search", 40)
    for c in conns.values():
        run_queries(c, knn_sql(ds.metric), queries[:200])


def sweep(conns, ds, queries, truth, efs, label, rounds=1):
    """Recall@10, queries/s, latency and server-side time on one connection per engine, for
    each hnsw.ef_search. The engines take turns pass by pass; each one's QPS is the median
    of its passes (one pass of a few hundred queries is short enough for noise to move QPS
    by 30%) and its latencies are pooled. Returns {engine: [point per ef]}."""
    sql = knn_sql(ds.metric)
    points = {name: [] for name in conns}
    for ef in efs:
        set_all(conns, "hnsw.ef_search", ef)
        rates, lat, found = ({n: [] for n in conns} for _ in range(3))
        for _ in range(rounds):
            for name, c in conns.items():
                started = time.perf_counter()
                found[name], round_lat = run_queries(c, sql, queries)
                rates[name].append(len(queries) / (time.perf_counter() - started))
                lat[name].extend(round_lat)
        for name, c in conns.items():
            qps = float(np.median(rates[name]))
            point = {"ef": ef, "recall": recall(found[name], truth), "qps": qps, "qps_rounds": rates[name],
                     "p50_ms": 1000 * float(np.percentile(lat[name], 50)),
                     "p99_ms": 1000 * float(np.percentile(lat[name], 99)),
                     "server_ms": server_ms(c, sql, queries[:EXPLAINED])}
            points[name].append(point)
            say(f"      {name} {label} ef_search {ef:4d}: recall@10 {point['recall']:.3f}, {qps:7.0f} queries/s,"
                f" p50 {point['p50_ms']:.2f} ms, p99 {point['p99_ms']:.2f} ms, server {point['server_ms']:.2f} ms")
    return points


def plan_kind(c, sql, params):
    """"index" when the query reads the hnsw index ("index, Index Cond" for hnsw_pg's
    multicolumn index applying the filter, "index, Filter" for it leaving the filter to the
    table's rows), "bitmap" when it sorts what a bitmap scan of a btree found, "btree" for
    a btree index scan and a sort, "exact" otherwise (a sequential scan and a sort)."""
    plan = " ".join(r[0] for r in c.execute("EXPLAIN " + sql, params).fetchall())
    if "Bitmap Heap Scan" in plan:
        return "bitmap"
    if any(f"Index Scan using {b} " in plan for b in BTREES.values()):
        return "btree"
    if f"Index Scan using {FILTER_INDEX} " in plan:
        return "index, Index Cond" if "Index Cond" in plan else "index, Filter"
    return "index" if "Index Scan using" in plan else "exact"


def create_btrees(conn, columns):
    """A btree on each of `columns` (category, and label where the table has it), analysed."""
    for column in columns:
        conn.execute(f"CREATE INDEX {BTREES[column]} ON {TABLE} ({column})")
    conn.execute(f"ANALYZE {TABLE}")


# hnsw_pg's multicolumn index: the filter columns in the index, which the scan tests
# itself (the bench's `category < bound` and `label = k` both).
FILTER_INDEX = "items_embedding_filters"


def create_filter_index(conn, metric, columns):
    """hnsw_pg's index of the vectors with `columns` (category, and label where the table
    has it) after them, analysed; the single-column index stays, the planner chooses."""
    conn.execute(f"CREATE INDEX {FILTER_INDEX} ON {TABLE} USING hnsw "
                 f"(embedding {OPS[metric][0]}, {', '.join(columns)})")
    conn.execute(f"ANALYZE {TABLE}")


def drop_filter_index(conn):
    conn.execute(f"DROP INDEX IF EXISTS {FILTER_INDEX}")


def drop_btrees(conn):
    for name in BTREES.values():
        conn.execute(f"DROP INDEX IF EXISTS {name}")


def filter_plans(conns, ds, queries, filters, ef, variants=PLAN_VARIANTS):
    """Queries with a WHERE clause on another column (`filters`: label -> Filter), each
    under the plan the planner chooses and under each plan `variants` forces, with
    iterative scans on in relaxed order (pgvector's recommended setting for filters,
    hnsw_pg's default). Returns {filter: {engine: {variant: point}}}; a point has the plan,
    queries/s, recall@k (k the rows that can pass, up to 10) and the mean rows returned.
    Forced plans run for FORCED_BUDGET_S at most."""
    set_all(conns, "hnsw.iterative_scan", "relaxed_order")
    set_all(conns, "hnsw.ef_search", ef)
    out = {}
    for label, f in filters.items():
        out[label] = {name: {} for name in conns}
        for variant, settings in variants.items():
            # A statement text of its own per variant: a prepared statement keeps the plan
            # it was prepared with, whatever enable_* says later.
            sql = knn_sql(ds.metric, f.where) + f" /* {variant} plan */"
            budget = None if variant == "chosen" else FORCED_BUDGET_S
            for key, value in settings.items():
                set_all(conns, key, value)
            for name, c in conns.items():
                run_queries(c, sql, queries[:5], f.args)
                started = time.perf_counter()
                found, _ = run_queries(c, sql, queries, f.args, budget, FORCED_MIN)
                first = (queries[0],) if f.args is None else (f.args[0], queries[0])
                point = {"plan": plan_kind(c, sql, first),
                         "qps": len(found) / (time.perf_counter() - started),
                         "queries": len(found),
                         "rows": float(np.mean([len(x) for x in found])),
                         "recall": None if f.truth is None
                         else recall(found, f.truth[:len(found)], k=f.truth.shape[1])}
                out[label][name][variant] = point
                shown = "" if point["recall"] is None else f"recall {point['recall']:.3f}, "
                say(f"      {name} filter {label:>11} {variant:>6} ({point['plan']}): {shown}"
                    f"{point['qps']:7.0f} queries/s, {point['rows']:.1f} rows")
            for key in settings:
                set_all(conns, key, "DEFAULT")
    return out


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


def sweep_parallel(engines_, ds, queries, truth, efs, clients=2, rounds=1):
    """Total queries/s with `clients` connections at once per engine, each on its share of
    the queries from its own thread (psycopg releases the GIL while it waits for the
    server); the engines take turns pass by pass. QPS is the median over `rounds` passes.
    Returns {engine: [point per ef]}."""
    conns = {e.name: [e.connect() for _ in range(clients)] for e in engines_}
    shares = [range(c, len(queries), clients) for c in range(clients)]
    points = {e.name: [] for e in engines_}
    try:
        for ef in efs:
            rates, found = {n: [] for n in conns}, {}
            for _ in range(rounds):
                for name, cs in conns.items():
                    found[name], wall = parallel_round(cs, ds, queries, shares, ef)
                    rates[name].append(len(queries) / wall)
            for name in conns:
                merged = [None] * len(queries)
                for c in range(clients):
                    for i, f in zip(shares[c], found[name][c]):
                        merged[i] = f
                point = {"ef": ef, "recall": recall(merged, truth), "qps": float(np.median(rates[name])),
                         "qps_rounds": rates[name]}
                points[name].append(point)
                say(f"      {name} {clients} connections ef_search {ef:4d}: recall@10 {point['recall']:.3f},"
                    f" {point['qps']:7.0f} queries/s")
    finally:
        for cs in conns.values():
            for c in cs:
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
