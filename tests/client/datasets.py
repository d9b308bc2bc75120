"""The real data sets the client tests use, as float32 arrays: the ones shipped in data/
and the ones `make data` (scripts/fetch_data.py) makes from package registries."""

import pathlib

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
FOLDERS = {
    "wordnet-minilm-384-10k": REPO / "data" / "wordnet-minilm-384-10k",
    "glove-6b-50-10k": REPO / "data" / "glove-6b-50-10k",
    "fashion-mnist-784-10k": REPO / "target" / "data" / "fashion-mnist-784-10k",
    "wordnet-tfidf-10k": REPO / "target" / "data" / "wordnet-tfidf-10k",
}


def folder(name):
    path = FOLDERS[name]
    assert path.exists(), f"{path} is missing: run `make data`"
    return path


def base(name):
    return np.load(folder(name) / "base.npy").astype(np.float32)


def queries(name):
    return np.load(folder(name) / "query.npy").astype(np.float32)


def truth(name):
    return np.load(folder(name) / "gt_ids.npy")


def labels(name, part):
    """A labelled set's class of each row of `part` ("base" or "query")."""
    return np.load(folder(name) / f"{part}_labels.npy")


def sparse_lines(name, part):
    """A sparse set's `part` ("base" or "query"): sparsevec literals, one per row."""
    return (folder(name) / f"{part}.txt").read_text().splitlines()
