//! The distance an index orders by, one per operator class. Values only need to order
//! correctly, so L2 skips the square root and inner product is negated (smaller = closer).

use super::Kernels;
use crate::element::f16;

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
    /// `<~>` on bits: how many differ.
    Hamming,
    /// `<%>` on bits: 1 - |a ∧ b| / |a ∨ b| (1 when no bit is set in both).
    Jaccard,
    /// The metrics an index of sparse vectors computes on their slot form
    /// (`sparse::slots`): squared Euclidean, negative inner product (also cosine's, on
    /// unit vectors), taxicab.
    SparseL2,
    SparseInnerProduct,
    SparseL1,
}

impl Metric {
    /// Whether an index stores this metric's vectors scaled to unit length. Cosine does:
    /// on unit vectors, ordering by 1 - cos is ordering by -a·b, one multiply-add per
    /// element instead of three, and vectors of one direction become exact duplicates.
    pub fn normalizes(self) -> bool {
        self == Metric::Cosine
    }

    /// The form in which an index stores (and searches with) `v`: unit length under
    /// cosine, else as is. `None` for a zero vector under cosine, which has no direction
    /// and is not indexed.
    pub fn stored_form(self, v: &[f32]) -> Option<std::borrow::Cow<'_, [f32]>> {
        if self.normalizes() {
            normalized(v).map(std::borrow::Cow::Owned)
        } else {
            Some(std::borrow::Cow::Borrowed(v))
        }
    }

    /// The metric an index computes on its stored (possibly normalised) vectors.
    pub fn indexed(self) -> Metric {
        if self.normalizes() {
            Metric::InnerProduct
        } else {
            self
        }
    }

    /// What the SQL operator of this (an operator class's) metric gives for `value`, a
    /// distance as `indexed` (the index's own metric, `Element::indexed_metric`) computes
    /// it: the square root of L2's squares, 1 plus cosine's minus dot product on unit
    /// vectors, other values as they are.
    pub fn operator_value(self, indexed: Metric, value: f32) -> f64 {
        let v = value as f64;
        match (self, indexed) {
            (Metric::L2, _) => v.max(0.0).sqrt(),
            (Metric::Cosine, Metric::InnerProduct) => 1.0 + v,
            _ => v,
        }
    }

    pub fn distance(self, kernels: &Kernels, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::L2 => (kernels.l2_squared)(a, b),
            Metric::InnerProduct => -(kernels.inner_product)(a, b),
            Metric::Cosine => kernels.cosine_distance(a, b) as f32,
            Metric::L1 => (kernels.l1)(a, b),
            Metric::Hamming => (kernels.hamming)(a, b),
            Metric::Jaccard => super::jaccard_distance((kernels.bit_counts)(a, b)) as f32,
            Metric::SparseL2 => crate::sparse::slots::l2_squared(a, b),
            Metric::SparseInnerProduct => -crate::sparse::slots::inner_product(a, b),
            Metric::SparseL1 => crate::sparse::slots::l1(a, b),
        }
    }

    /// `distance` from a float32 query to float16 stored elements.
    pub fn distance_to_halves(self, kernels: &Kernels, a: &[f32], b: &[f16]) -> f32 {
        match self {
            Metric::L2 => (kernels.l2_squared_f16)(a, b),
            Metric::InnerProduct => -(kernels.inner_product_f16)(a, b),
            Metric::L1 => (kernels.l1_f16)(a, b),
            Metric::Cosine => kernels.cosine_distance_to_halves(a, b) as f32,
            // Bit and sparse metrics never meet float16 elements.
            Metric::Hamming
            | Metric::Jaccard
            | Metric::SparseL2
            | Metric::SparseInnerProduct
            | Metric::SparseL1 => self.distance(kernels, a, &crate::element::widen(b)),
        }
    }
}

/// `v` scaled to unit length (norm accumulated in f64); `None` for the zero vector.
pub fn normalized(v: &[f32]) -> Option<Vec<f32>> {
    let norm = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    (norm > 0.0).then(|| v.iter().map(|&x| (x as f64 / norm) as f32).collect())
}
