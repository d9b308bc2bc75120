//! Scalar reference kernels: the oracle every optimised kernel is tested against.
//! Accumulation is in f32, element by element from +0, as pgvector's C code does (Rust's
//! `sum` starts from -0).

use crate::element::f16;

/// A float4 sum from +0, as pgvector's loops start: Rust's `sum` starts from -0, so a sum
/// of nothing (or of -0s only) would be -0.
pub(crate) fn plus_sum(terms: impl Iterator<Item = f32>) -> f32 {
    terms.fold(0.0, |sum, t| sum + t)
}

pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    plus_sum(a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)))
}

pub fn inner_product(a: &[f32], b: &[f32]) -> f32 {
    plus_sum(a.iter().zip(b).map(|(x, y)| x * y))
}

pub fn l1(a: &[f32], b: &[f32]) -> f32 {
    plus_sum(a.iter().zip(b).map(|(x, y)| (x - y).abs()))
}

/// (a·b, |a|², |b|²) in one pass: the three sums cosine distance needs.
pub fn dot_and_norms(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let mut dot = 0.0f32;
    let mut na = 0.0f32;
    let mut nb = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    (dot, na, nb)
}

// Against float16 stored elements (an index of `halfvec`): the query stays float32.

pub fn l2_squared_f16(a: &[f32], b: &[f16]) -> f32 {
    plus_sum(
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y.to_f32()) * (x - y.to_f32())),
    )
}

pub fn inner_product_f16(a: &[f32], b: &[f16]) -> f32 {
    plus_sum(a.iter().zip(b).map(|(x, y)| x * y.to_f32()))
}

pub fn l1_f16(a: &[f32], b: &[f16]) -> f32 {
    plus_sum(a.iter().zip(b).map(|(x, y)| (x - y.to_f32()).abs()))
}

pub fn dot_and_norms_f16(a: &[f32], b: &[f16]) -> (f32, f32, f32) {
    let mut dot = 0.0f32;
    let mut na = 0.0f32;
    let mut nb = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let y = y.to_f32();
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    (dot, na, nb)
}

// Bits, 32 to a slot as its bit pattern (see `element`).

pub fn hamming(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.to_bits() ^ y.to_bits()).count_ones())
        .sum::<u32>() as f32
}

/// (|a ∧ b|, |a|, |b|): the bit counts Jaccard distance needs.
pub fn bit_counts(a: &[f32], b: &[f32]) -> (u32, u32, u32) {
    let (mut ab, mut aa, mut bb) = (0, 0, 0);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.to_bits(), y.to_bits());
        ab += (x & y).count_ones();
        aa += x.count_ones();
        bb += y.count_ones();
    }
    (ab, aa, bb)
}

// Against 8-bit codes (`codes`): code k of a vector stands for `lo + step * k`.

pub fn l2_squared_u8(a: &[f32], codes: &[u8], lo: f32, step: f32) -> f32 {
    plus_sum(a.iter().zip(codes).map(|(x, &k)| {
        let d = x - step.mul_add(k as f32, lo);
        d * d
    }))
}

pub fn l1_u8(a: &[f32], codes: &[u8], lo: f32, step: f32) -> f32 {
    plus_sum(
        a.iter()
            .zip(codes)
            .map(|(x, &k)| (x - step.mul_add(k as f32, lo)).abs()),
    )
}

/// (Σ a·k, Σ a, Σ a²): with a vector's `lo` and `step`, the inner product is
/// `lo * Σ a + step * Σ a·k`.
pub fn dot_u8(a: &[f32], codes: &[u8]) -> (f32, f32, f32) {
    let (mut dot, mut sum, mut norm) = (0.0f32, 0.0f32, 0.0f32);
    for (x, &k) in a.iter().zip(codes) {
        dot += x * k as f32;
        sum += x;
        norm += x * x;
    }
    (dot, sum, norm)
}

/// Σ_b table[256 b + code[b]] over the code's bytes: product quantization's lookup, with
/// one row of 256 sums per code byte (two subvectors, see `codes::pq`).
pub fn pq_table_sum(table: &[f32], code: &[u8]) -> f32 {
    let n = code.len().min(table.len() / 256);
    let mut sum = 0.0f32;
    for (b, &byte) in code[..n].iter().enumerate() {
        sum += table[256 * b + byte as usize];
    }
    sum
}
