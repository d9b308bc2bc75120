//! Kernel throughput per implementation at common embedding sizes.
//! Run with `cargo bench -p hnsw_core --bench kernels`; `make bench-kernels` prints a summary.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hnsw_core::distance::Implementation;

fn vectors(dim: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..dim)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
        .collect();
    let b = (0..dim)
        .map(|i| ((i * 53 % 97) as f32 - 48.0) / 24.0)
        .collect();
    (a, b)
}

fn bench_kernels(c: &mut Criterion) {
    for dim in [128usize, 384, 768, 1536] {
        let (a, b) = vectors(dim);
        let mut group = c.benchmark_group(format!("dim{dim}"));
        group.throughput(Throughput::Elements(dim as u64));
        for imp in Implementation::ALL {
            let Some(k) = imp.kernels() else { continue };
            group.bench_function(BenchmarkId::new("l2_squared", imp.name()), |bench| {
                bench.iter(|| (k.l2_squared)(black_box(&a), black_box(&b)))
            });
            group.bench_function(BenchmarkId::new("inner_product", imp.name()), |bench| {
                bench.iter(|| (k.inner_product)(black_box(&a), black_box(&b)))
            });
            group.bench_function(BenchmarkId::new("cosine", imp.name()), |bench| {
                bench.iter(|| k.cosine_distance(black_box(&a), black_box(&b)))
            });
            group.bench_function(BenchmarkId::new("l1", imp.name()), |bench| {
                bench.iter(|| (k.l1)(black_box(&a), black_box(&b)))
            });
            // A product-quantization code of four elements a subvector, and its table.
            let subvectors = dim / 4;
            let table: Vec<f32> = (0..128 * subvectors).map(|i| (i % 29) as f32).collect();
            let code: Vec<u8> = (0..subvectors / 2).map(|i| (i * 37 % 256) as u8).collect();
            group.bench_function(BenchmarkId::new("pq_table_sum", imp.name()), |bench| {
                bench.iter(|| (k.pq_table_sum)(black_box(&table), black_box(&code)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_kernels);
criterion_main!(benches);
