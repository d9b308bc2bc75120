//! Helpers shared by the integration tests.

use hnsw_core::graph::splitmix64;

/// `n` pseudo-random vectors of `dim` floats in [-0.5, 0.5), the same for the same seed.
pub fn random_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    (0..n * dim)
        .map(|i| (splitmix64(seed ^ i as u64) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
        .collect()
}
