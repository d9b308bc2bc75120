"""Exact nearest neighbours with numpy (cached under target/bench-cache), and recall@k."""

import hashlib
import pathlib

import numpy as np

CACHE = pathlib.Path(__file__).resolve().parents[1] / "target" / "bench-cache"
CHUNK = 100  # queries per matrix product: 100 x 400k float32 scores is 160 MB


def exact_knn(base, queries, metric, k=10, ids=None):
    """Ids of the k nearest rows of `base` for each query, nearest first (ties to the lower
    id). Row i has id ids[i], or i when ids is None. Cosine ranks by dot product of unit
    vectors; L2 by |x|^2 - 2 q.x (the |q|^2 term does not change the order)."""
    ids = np.arange(len(base)) if ids is None else np.asarray(ids)
    if metric == "cosine":
        base = base / np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-30)
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-30)
        offset = None
    else:
        offset = np.einsum("ij,ij->i", base, base)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), CHUNK):
        scores = queries[start:start + CHUNK] @ base.T
        scores = -scores if offset is None else offset - 2 * scores
        top = np.argpartition(scores, k - 1, axis=1)[:, :k]  # the k smallest, in any order
        for row, cand in enumerate(top):
            order = np.lexsort((ids[cand], scores[row, cand]))
            out[start + row] = ids[cand[order]]
    return out


def cached_knn(key, base, queries, metric, k=10, ids=None):
    """exact_knn, kept on disk under a name built from `key` and a digest of the inputs."""
    digest = hashlib.sha1()
    for part in (base, queries, ids if ids is not None else np.arange(0)):
        digest.update(np.ascontiguousarray(part).view(np.uint8)[:1 << 22].tobytes())
        digest.update(str(np.shape(part)).encode())
    path = CACHE / f"{key}-{metric}-k{k}-{digest.hexdigest()[:12]}.npy"
    if path.exists():
        return np.load(path), True
    truth = exact_knn(base, queries, metric, k, ids)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, truth)
    return truth, False


def recall(found, truth, k=10):
    """Mean over queries of |found[:k] & truth[:k]| / k."""
    hits = sum(len(set(f[:k]) & set(t[:k].tolist())) for f, t in zip(found, truth))
    return hits / (k * len(truth))
