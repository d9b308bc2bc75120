//! 8-bit scalar codes (`quantization = 'sq8'`): a code is `lo`, `step` and the decoded
//! vector's squared norm (three little-endian float32), then one byte `k` per element,
//! which stands for `lo + step * k`. Each vector has its own range, so nothing is
//! trained: an index built on an empty table, or a row inserted later, encodes the same
//! way as a build does.

use crate::distance::{Kernels, Metric};

/// Bytes before a code's elements: lo, step, squared norm.
pub const SQ8_HEADER: usize = 12;
/// The most a code byte takes.
const LEVELS: f32 = 255.0;

/// Writes the SQ8 code of `v` into `out` (`code_bytes(v.len())` bytes).
pub fn encode_sq8(v: &[f32], out: &mut [u8]) {
    assert_eq!(out.len(), SQ8_HEADER + v.len());
    let (lo, hi) = v
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    // The range in f64: the ends of a finite vector may be more than f32::MAX apart.
    let step = ((hi as f64 - lo as f64) / LEVELS as f64) as f32;
    let (lo, step) = if v.is_empty() || !step.is_finite() {
        (0.0, 0.0)
    } else {
        (lo, step)
    };
    let mut norm = 0.0f64;
    for (x, k) in v.iter().zip(&mut out[SQ8_HEADER..]) {
        let level = if step > 0.0 {
            ((x - lo) / step).round().clamp(0.0, LEVELS)
        } else {
            0.0
        };
        *k = level as u8;
        let decoded = step.mul_add(level, lo) as f64;
        norm += decoded * decoded;
    }
    out[0..4].copy_from_slice(&lo.to_le_bytes());
    out[4..8].copy_from_slice(&step.to_le_bytes());
    out[8..12].copy_from_slice(&(norm as f32).to_le_bytes());
}

/// The values an SQ8 code stands for, appended to `out`.
pub fn decode_sq8(code: &[u8], out: &mut Vec<f32>) {
    let (lo, step, _) = header(code);
    out.extend(
        code[SQ8_HEADER..]
            .iter()
            .map(|&k| step.mul_add(k as f32, lo)),
    );
}

fn header(code: &[u8]) -> (f32, f32, f32) {
    let float = |at: usize| f32::from_le_bytes(code[at..at + 4].try_into().expect("4 bytes"));
    (float(0), float(4), float(8))
}

/// The distance `metric` gives between `query` and the vector an SQ8 code stands for
/// (an estimate of the distance to the vector itself), in the metric's order values.
pub fn sq8_distance(metric: Metric, kernels: &Kernels, query: &[f32], code: &[u8]) -> f32 {
    let (lo, step, norm) = header(code);
    let elements = &code[SQ8_HEADER..];
    match metric {
        Metric::L2 => (kernels.l2_squared_u8)(query, elements, lo, step),
        Metric::L1 => (kernels.l1_u8)(query, elements, lo, step),
        Metric::InnerProduct => {
            let (dot, sum, _) = (kernels.dot_u8)(query, elements);
            -lo.mul_add(sum, step * dot)
        }
        Metric::Cosine => {
            let (dot, sum, query_norm) = (kernels.dot_u8)(query, elements);
            let product = lo.mul_add(sum, step * dot) as f64;
            let similarity = product / (query_norm as f64 * norm as f64).sqrt();
            (1.0 - similarity.clamp(-1.0, 1.0)) as f32
        }
        // `Quantization::applies_to` keeps codes out of indexes of other metrics.
        other => unreachable!("no codes for {other:?}"),
    }
}
