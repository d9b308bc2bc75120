"""Summarises the criterion kernel benches: ns per call and the AVX2 speed-up over scalar.

Usage: python3 bench/kernel_summary.py target/criterion"""

import json
import os
import sys

KERNELS = ["l2_squared", "inner_product", "cosine", "l1"]
DIMS = [128, 384, 768, 1536]


def mean_ns(root, dim, kernel, implementation):
    path = os.path.join(root, f"dim{dim}", kernel, implementation, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["mean"]["point_estimate"]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
    print("| kernel | dims | scalar ns | avx2+fma ns | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for kernel in KERNELS:
        for dim in DIMS:
            scalar = mean_ns(root, dim, kernel, "scalar")
            simd = mean_ns(root, dim, kernel, "avx2+fma")
            if scalar is None:
                continue
            if simd is None:
                print(f"| {kernel} | {dim} | {scalar:.1f} | n/a | n/a |")
            else:
                print(f"| {kernel} | {dim} | {scalar:.1f} | {simd:.1f} | {scalar / simd:.1f}x |")


if __name__ == "__main__":
    main()
