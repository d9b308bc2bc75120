//! The distance an index orders by, one per operator class. Values only need to order
//! correctly, so L2 skips the square root and inner product is negated (smaller = closer).

use super::Kernels;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `<->`, ordered by squared Euclidean distance.
    L2,
    /// `<#>`: negative inner product.
    InnerProduct,
    /// `<=>`: 1 - cosine similarity.
    Cosine,
    /// `<+>`: taxicab distance.
    L1,
}

impl Metric {
    pub fn distance(self, kernels: &Kernels, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::L2 => (kernels.l2_squared)(a, b),
            Metric::InnerProduct => -(kernels.inner_product)(a, b),
            Metric::Cosine => kernels.cosine_distance(a, b) as f32,
            Metric::L1 => (kernels.l1)(a, b),
        }
    }
}
