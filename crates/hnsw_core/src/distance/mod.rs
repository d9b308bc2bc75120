//! Distance kernels: a scalar reference and AVX2+FMA versions (with F16C for float16
//! elements and POPCNT for bits), one chosen at run time.
//!
//! `kernels()` picks the fastest implementation the CPU supports, once, and every caller
//! (SQL operators, index build and scan) goes through that table of plain function
//! pointers. `Implementation::ALL` lets tests and benches run every available one.
#![allow(unsafe_code)] // see the crate header

#[cfg(target_arch = "x86_64")]
mod avx2;
mod metric;
mod scalar;

pub use metric::{normalized, Metric};
pub(crate) use scalar::plus_sum;

use crate::element::f16;
use std::sync::OnceLock;

type PairFn = fn(&[f32], &[f32]) -> f32;
/// A float32 query against float16 stored elements.
type HalfPairFn = fn(&[f32], &[f16]) -> f32;
type DotNormsFn = fn(&[f32], &[f32]) -> (f32, f32, f32);
type HalfDotNormsFn = fn(&[f32], &[f16]) -> (f32, f32, f32);
type BitCountsFn = fn(&[f32], &[f32]) -> (u32, u32, u32);
/// A float32 query against 8-bit codes standing for `lo + step * code` (see `codes`).
type CodePairFn = fn(&[f32], &[u8], f32, f32) -> f32;
type CodeDotFn = fn(&[f32], &[u8]) -> (f32, f32, f32);
/// A table of 256 values per code byte against a code (see `codes::pq`).
type TableSumFn = fn(&[f32], &[u8]) -> f32;

/// One way of computing distances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    Scalar,
    Avx2Fma,
}

impl Implementation {
    /// Every implementation, fastest last.
    pub const ALL: [Implementation; 2] = [Implementation::Scalar, Implementation::Avx2Fma];

    pub fn name(self) -> &'static str {
        match self {
            Implementation::Scalar => "scalar",
            Implementation::Avx2Fma => "avx2+fma",
        }
    }

    /// Whether this CPU can run the implementation.
    pub fn is_available(self) -> bool {
        match self {
            Implementation::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Implementation::Avx2Fma => {
                std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
                    && std::is_x86_feature_detected!("f16c")
                    && std::is_x86_feature_detected!("popcnt")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Implementation::Avx2Fma => false,
        }
    }

    /// The kernel table, or `None` when this CPU cannot run it.
    pub fn kernels(self) -> Option<Kernels> {
        if !self.is_available() {
            return None;
        }
        Some(match self {
            Implementation::Scalar => SCALAR,
            #[cfg(target_arch = "x86_64")]
            Implementation::Avx2Fma => AVX2_FMA,
            #[cfg(not(target_arch = "x86_64"))]
            Implementation::Avx2Fma => unreachable!("is_available is false off x86_64"),
        })
    }
}

/// A table of distance kernels. All slices passed in must have equal length.
#[derive(Clone, Copy, Debug)]
pub struct Kernels {
    pub implementation: Implementation,
    /// Σ (a - b)²
    pub l2_squared: PairFn,
    /// Σ a·b
    pub inner_product: PairFn,
    /// Σ |a - b|
    pub l1: PairFn,
    /// (Σ a·b, Σ a², Σ b²)
    pub dot_and_norms: DotNormsFn,
    /// The same four against float16 elements (indexes of `halfvec`).
    pub l2_squared_f16: HalfPairFn,
    pub inner_product_f16: HalfPairFn,
    pub l1_f16: HalfPairFn,
    pub dot_and_norms_f16: HalfDotNormsFn,
    /// Bits that differ, over slots of 32 bits (see `element`).
    pub hamming: PairFn,
    /// (|a ∧ b|, |a|, |b|) over slots of 32 bits.
    pub bit_counts: BitCountsFn,
    /// Σ (a - (lo + step·k))² against 8-bit codes k.
    pub l2_squared_u8: CodePairFn,
    /// Σ |a - (lo + step·k)|.
    pub l1_u8: CodePairFn,
    /// (Σ a·k, Σ a, Σ a²).
    pub dot_u8: CodeDotFn,
    /// Σ_b table[256 b + code[b]] over a product-quantization code's bytes.
    pub pq_table_sum: TableSumFn,
}

impl Kernels {
    /// Euclidean distance, as pgvector: the f32 sum, then a double square root.
    pub fn l2_distance(&self, a: &[f32], b: &[f32]) -> f64 {
        debug_assert_eq!(a.len(), b.len());
        ((self.l2_squared)(a, b) as f64).sqrt()
    }

    /// 1 - cosine similarity. NaN when either vector is zero (0/0), as pgvector.
    pub fn cosine_distance(&self, a: &[f32], b: &[f32]) -> f64 {
        debug_assert_eq!(a.len(), b.len());
        cosine_from((self.dot_and_norms)(a, b))
    }

    /// `cosine_distance` against float16 elements.
    pub fn cosine_distance_to_halves(&self, a: &[f32], b: &[f16]) -> f64 {
        debug_assert_eq!(a.len(), b.len());
        cosine_from((self.dot_and_norms_f16)(a, b))
    }
}

/// Jaccard distance from `bit_counts`: 1 - |a ∧ b| / |a ∨ b|, and 1 when no bit is set
/// in both (as pgvector).
pub fn jaccard_distance((ab, aa, bb): (u32, u32, u32)) -> f64 {
    if ab == 0 {
        return 1.0;
    }
    1.0 - ab as f64 / (aa as f64 + bb as f64 - ab as f64)
}

/// 1 - a·b / (|a| |b|) from the three sums, in double precision.
fn cosine_from((dot, na, nb): (f32, f32, f32)) -> f64 {
    let similarity = dot as f64 / (na as f64 * nb as f64).sqrt();
    // Rounding can push |similarity| slightly past 1; clamp keeps NaN as NaN.
    1.0 - similarity.clamp(-1.0, 1.0)
}

const SCALAR: Kernels = Kernels {
    implementation: Implementation::Scalar,
    l2_squared: scalar::l2_squared,
    inner_product: scalar::inner_product,
    l1: scalar::l1,
    dot_and_norms: scalar::dot_and_norms,
    l2_squared_f16: scalar::l2_squared_f16,
    inner_product_f16: scalar::inner_product_f16,
    l1_f16: scalar::l1_f16,
    dot_and_norms_f16: scalar::dot_and_norms_f16,
    hamming: scalar::hamming,
    bit_counts: scalar::bit_counts,
    l2_squared_u8: scalar::l2_squared_u8,
    l1_u8: scalar::l1_u8,
    dot_u8: scalar::dot_u8,
    pq_table_sum: scalar::pq_table_sum,
};

// Safe entry points to the AVX2 kernels. They are reachable only through AVX2_FMA, which
// `Implementation::kernels` hands out only after `is_available` saw AVX2, FMA, F16C and
// POPCNT.
#[cfg(target_arch = "x86_64")]
mod avx2_entry {
    use super::avx2;
    use crate::element::f16;
    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA detection.
        unsafe { avx2::l2_squared(a, b) }
    }
    pub fn inner_product(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA detection.
        unsafe { avx2::inner_product(a, b) }
    }
    pub fn l1(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA detection.
        unsafe { avx2::l1(a, b) }
    }
    pub fn dot_and_norms(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA detection.
        unsafe { avx2::dot_and_norms(a, b) }
    }
    pub fn l2_squared_f16(a: &[f32], b: &[f16]) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA+F16C detection.
        unsafe { avx2::l2_squared_f16(a, b) }
    }
    pub fn inner_product_f16(a: &[f32], b: &[f16]) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA+F16C detection.
        unsafe { avx2::inner_product_f16(a, b) }
    }
    pub fn l1_f16(a: &[f32], b: &[f16]) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA+F16C detection.
        unsafe { avx2::l1_f16(a, b) }
    }
    pub fn dot_and_norms_f16(a: &[f32], b: &[f16]) -> (f32, f32, f32) {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA+F16C detection.
        unsafe { avx2::dot_and_norms_f16(a, b) }
    }
    pub fn hamming(a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after POPCNT detection.
        unsafe { avx2::hamming(a, b) }
    }
    pub fn bit_counts(a: &[f32], b: &[f32]) -> (u32, u32, u32) {
        // SAFETY: only reachable via AVX2_FMA, handed out after POPCNT detection.
        unsafe { avx2::bit_counts(a, b) }
    }
    pub fn l2_squared_u8(a: &[f32], codes: &[u8], lo: f32, step: f32) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA detection.
        unsafe { avx2::l2_squared_u8(a, codes, lo, step) }
    }
    pub fn l1_u8(a: &[f32], codes: &[u8], lo: f32, step: f32) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA detection.
        unsafe { avx2::l1_u8(a, codes, lo, step) }
    }
    pub fn dot_u8(a: &[f32], codes: &[u8]) -> (f32, f32, f32) {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2+FMA detection.
        unsafe { avx2::dot_u8(a, codes) }
    }
    pub fn pq_table_sum(table: &[f32], code: &[u8]) -> f32 {
        // SAFETY: only reachable via AVX2_FMA, handed out after AVX2 detection.
        unsafe { avx2::pq_table_sum(table, code) }
    }
}

#[cfg(target_arch = "x86_64")]
const AVX2_FMA: Kernels = Kernels {
    implementation: Implementation::Avx2Fma,
    l2_squared: avx2_entry::l2_squared,
    inner_product: avx2_entry::inner_product,
    l1: avx2_entry::l1,
    dot_and_norms: avx2_entry::dot_and_norms,
    l2_squared_f16: avx2_entry::l2_squared_f16,
    inner_product_f16: avx2_entry::inner_product_f16,
    l1_f16: avx2_entry::l1_f16,
    dot_and_norms_f16: avx2_entry::dot_and_norms_f16,
    hamming: avx2_entry::hamming,
    bit_counts: avx2_entry::bit_counts,
    l2_squared_u8: avx2_entry::l2_squared_u8,
    l1_u8: avx2_entry::l1_u8,
    dot_u8: avx2_entry::dot_u8,
    pq_table_sum: avx2_entry::pq_table_sum,
};

/// The fastest kernels this CPU supports, detected on first use and then fixed.
pub fn kernels() -> &'static Kernels {
    static CHOSEN: OnceLock<Kernels> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        Implementation::ALL
            .iter()
            .rev()
            .find_map(|imp| imp.kernels())
            .unwrap_or(SCALAR)
    })
}
