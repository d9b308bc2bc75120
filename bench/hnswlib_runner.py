"""hnswlib on the same data and parameters: the raw in-memory library, the ceiling that an
index inside Postgres (pages, buffers, executor, client protocol) can approach."""

import os
import time

import hnswlib
import numpy as np

from progress import say
from truth import recall

SPACES = {"cosine": "cosine", "l2": "l2"}


def build(ds, m, ef_construction, threads):
    index = hnswlib.Index(space=SPACES[ds.metric], dim=ds.dim)
    index.init_index(max_elements=len(ds.base), ef_construction=ef_construction, M=m, random_seed=1)
    index.set_num_threads(threads)
    started = time.perf_counter()
    index.add_items(ds.base, np.arange(len(ds.base)), num_threads=threads)
    seconds = time.perf_counter() - started
    say(f"      hnswlib build m={m} ef_construction={ef_construction}, {threads} thread(s): {seconds:.1f} s")
    return index, {"m": m, "ef_construction": ef_construction, "threads": threads, "seconds": seconds}


def builds(ds, m, ef_construction):
    """Builds with 1 thread and with every core; returns the last index and both timings."""
    timings, index = [], None
    for threads in sorted({1, os.cpu_count()}):
        index, timing = build(ds, m, ef_construction, threads)
        timings.append(timing)
    return index, timings


def sweep(index, queries, truth, efs, rounds=1):
    """One query per knn_query call on one thread, as one SQL connection runs them; QPS is
    the median over `rounds` passes, as for hnsw_pg."""
    index.set_num_threads(1)
    points = []
    for ef in efs:
        index.set_ef(ef)
        for q in queries[:50]:
            index.knn_query(q, k=10, num_threads=1)
        rates, lat = [], []
        for _ in range(rounds):
            found = []
            started = time.perf_counter()
            for q in queries:
                t = time.perf_counter()
                labels, _ = index.knn_query(q, k=10, num_threads=1)
                lat.append(time.perf_counter() - t)
                found.append(labels[0].tolist())
            rates.append(len(queries) / (time.perf_counter() - started))
        qps = float(np.median(rates))
        point = {"ef": ef, "recall": recall(found, truth), "qps": qps, "qps_rounds": rates,
                 "p50_ms": 1000 * float(np.percentile(lat, 50)),
                 "p99_ms": 1000 * float(np.percentile(lat, 99))}
        points.append(point)
        say(f"      hnswlib ef {ef:4d}: recall@10 {point['recall']:.3f}, {qps:7.0f} queries/s")
    return points
