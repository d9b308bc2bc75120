"""Exact ground truth for a data set folder: gt_ids.npy (int32 [nq, 100], nearest first,
ties to the lower row) and gt_dist.npy (float32 [nq, 100]) from base.npy and query.npy,
computed in float64 on the float32 values the tests index."""

import sys

import numpy as np


def ground_truth(base, queries, metric, k=100):
    base, queries = base.astype(np.float64), queries.astype(np.float64)
    ids, dists = [], []
    for start in range(0, len(queries), 100):
        q = queries[start:start + 100]
        if metric == "cosine":
            bn = base / np.linalg.norm(base, axis=1, keepdims=True)
            qn = q / np.linalg.norm(q, axis=1, keepdims=True)
            d = 1.0 - qn @ bn.T
        elif metric == "l2":
            d = np.sqrt(np.maximum((q * q).sum(1)[:, None] - 2 * q @ base.T + (base * base).sum(1)[None, :], 0))
        else:
            raise SystemExit(f"unknown metric {metric}")
        order = np.argsort(d, axis=1, kind="stable")[:, :k]
        ids.append(order.astype(np.int32))
        dists.append(np.take_along_axis(d, order, axis=1).astype(np.float32))
    return np.concatenate(ids), np.concatenate(dists)


def write(folder, metric):
    base = np.load(f"{folder}/base.npy").astype(np.float32)
    queries = np.load(f"{folder}/query.npy").astype(np.float32)
    ids, dists = ground_truth(base, queries, metric)
    np.save(f"{folder}/gt_ids.npy", ids)
    np.save(f"{folder}/gt_dist.npy", dists)


if __name__ == "__main__":
    write(sys.argv[1], sys.argv[2])
