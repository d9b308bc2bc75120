//! How a vector's elements are kept: float32 (`vector`), float16 (`halfvec`) or bits
//! (Postgres' `bit`). The SQL types hold them so, and an index stores each vector in its
//! column's element type, so a `halfvec` index takes half the vector pages of a `vector`
//! one. Arithmetic and distances run in float32 (every float16 is exactly a float32).
//!
//! Bits travel through the index code in the same `&[f32]` slices as floats, 32 bits to a
//! slot as its bit pattern (`bits::to_slots`): nothing does arithmetic on them but the
//! Hamming and Jaccard kernels, which read the patterns, and copies keep every pattern.
//! Sparse vectors travel in their slot form (`sparse::slots`), of variable length: an
//! index keeps each one as a record of its own (`page::records`).

use crate::distance::Metric;
use crate::error::VectorError;
use crate::text::push_float;
use std::borrow::Cow;

pub use half::f16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    F32,
    F16,
    /// Bits, 32 to a float32 slot.
    Bit,
    /// `sparsevec`: indices and float32 values, a variable number of them.
    Sparse,
}

impl Element {
    /// The SQL type made of these elements, for messages.
    pub fn type_name(self) -> &'static str {
        match self {
            Element::F32 => "vector",
            Element::F16 => "halfvec",
            Element::Bit => "bit",
            Element::Sparse => "sparsevec",
        }
    }

    /// Slots of the `&[f32]` form of a vector of `dim` elements (bits, for `Bit`); 0 for
    /// sparse vectors, whose forms vary in length.
    pub fn slots(self, dim: usize) -> usize {
        match self {
            Element::F32 | Element::F16 => dim,
            Element::Bit => dim.div_ceil(32),
            Element::Sparse => 0,
        }
    }

    /// Whether vectors vary in length (and are kept as records, reached from their slot).
    pub fn is_variable(self) -> bool {
        self == Element::Sparse
    }

    /// Bytes an index stores in a vector's slot: the vector for `dim` elements, or the
    /// position of a sparse vector's record (`page::records`).
    pub fn vector_bytes(self, dim: usize) -> usize {
        match self {
            Element::Sparse => 8,
            _ => self.bytes() * self.slots(dim),
        }
    }

    /// The most elements an index of this type takes.
    pub fn max_dim(self) -> usize {
        match self {
            Element::F32 | Element::F16 => crate::MAX_DIM,
            Element::Bit => crate::MAX_BITS,
            Element::Sparse => crate::sparse::MAX_SPARSE_DIM,
        }
    }

    /// Bytes per slot of the stored form (a float, a half, 32 bits).
    pub fn bytes(self) -> usize {
        match self {
            Element::F32 | Element::Bit | Element::Sparse => 4,
            Element::F16 => 2,
        }
    }

    /// The code the meta page records (0 is float32, which is also what an index of
    /// format version 2, which had no such field, stored).
    pub fn code(self) -> u8 {
        match self {
            Element::F32 => 0,
            Element::F16 => 1,
            Element::Bit => 2,
            Element::Sparse => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<Element> {
        [Element::F32, Element::F16, Element::Bit, Element::Sparse]
            .into_iter()
            .find(|e| e.code() == code)
    }

    /// The form in which an index of this element type stores (and compares) `v`, rounded
    /// to this precision. float32: the metric's stored form (unit length under cosine).
    /// float16: the values as they are, since unit vectors rounded to float16 would rank
    /// up to about 5e-4 off the exact cosine distance; `indexed_metric` then computes
    /// cosine in full. Sparse: the slot form, unit length under cosine. `None` for a zero
    /// vector under cosine, which is not indexed.
    pub fn stored_form<'a>(self, metric: Metric, v: &'a [f32]) -> Option<Cow<'a, [f32]>> {
        match self {
            Element::F32 => metric.stored_form(v),
            Element::Sparse if metric.normalizes() => {
                crate::sparse::slots::normalized(v).map(Cow::Owned)
            }
            Element::Sparse => Some(Cow::Borrowed(v)),
            Element::Bit => Some(Cow::Borrowed(v)),
            Element::F16 => {
                if metric.normalizes() && v.iter().all(|&x| x == 0.0) {
                    return None;
                }
                Some(Cow::Owned(
                    v.iter().map(|&x| f16::from_f32(x).to_f32()).collect(),
                ))
            }
        }
    }

    /// The metric an index of this element type computes on its stored vectors.
    pub fn indexed_metric(self, metric: Metric) -> Metric {
        match self {
            Element::F32 => metric.indexed(),
            Element::F16 | Element::Bit => metric,
            Element::Sparse => match metric {
                Metric::L2 => Metric::SparseL2,
                Metric::InnerProduct | Metric::Cosine => Metric::SparseInnerProduct,
                Metric::L1 => Metric::SparseL1,
                other => other,
            },
        }
    }

    /// Writes `v` little-endian into `out` (`bytes() * v.len()` bytes).
    pub fn encode(self, v: &[f32], out: &mut [u8]) {
        match self {
            Element::F32 | Element::Bit | Element::Sparse => {
                for (x, o) in v.iter().zip(out.chunks_exact_mut(4)) {
                    o.copy_from_slice(&x.to_le_bytes());
                }
            }
            Element::F16 => {
                for (x, o) in v.iter().zip(out.chunks_exact_mut(2)) {
                    o.copy_from_slice(&f16::from_f32(*x).to_le_bytes());
                }
            }
        }
    }

    /// Appends the elements encoded little-endian in `bytes` to `out`, as float32.
    pub fn decode(self, bytes: &[u8], out: &mut Vec<f32>) {
        match self {
            Element::F32 | Element::Bit | Element::Sparse => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            Element::F16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()),
            ),
        }
    }
}

/// `x` as a float16 (round to nearest even), as pgvector converts: a finite value beyond
/// float16's range (65,504) is `"x" is out of range for type halfvec`; NaN and the
/// infinities convert as they are (the element checks then refuse them).
pub fn to_half(x: f32) -> Result<f16, VectorError> {
    let h = f16::from_f32(x);
    if h.is_infinite() && x.is_finite() {
        let mut token = String::new();
        push_float(&mut token, x);
        return Err(VectorError::OutOfRange { token });
    }
    Ok(h)
}

/// Each element as a float16 (`to_half`), then checked as halfvec elements are.
pub fn to_halves(xs: &[f32]) -> Result<Vec<f16>, VectorError> {
    let halves = xs
        .iter()
        .map(|&x| to_half(x))
        .collect::<Result<Vec<_>, _>>()?;
    check_halves(&halves)?;
    Ok(halves)
}

/// The result of float32 arithmetic on halfvec elements, narrowed: an element that
/// becomes infinite is an overflow (`value out of range: overflow`), as pgvector reports.
pub fn narrow(xs: &[f32]) -> Result<Vec<f16>, VectorError> {
    let halves: Vec<f16> = xs.iter().map(|&x| f16::from_f32(x)).collect();
    if halves.iter().any(|h| h.is_infinite()) {
        return Err(VectorError::Overflow);
    }
    Ok(halves)
}

/// Every element finite (NaN first, as pgvector checks).
pub fn check_halves(xs: &[f16]) -> Result<(), VectorError> {
    xs.iter()
        .try_for_each(|h| crate::error::check_element(h.to_f32()))
}

pub fn widen(xs: &[f16]) -> Vec<f32> {
    xs.iter().map(|h| h.to_f32()).collect()
}

/// Element-wise product of two halfvecs, computed in float32 and narrowed: an overflow as
/// `narrow`, and a product of non-zero factors that rounds to zero is an underflow.
pub fn mul_halves(a: &[f16], b: &[f16]) -> Result<Vec<f16>, VectorError> {
    let out = narrow(&crate::ops::mul(&widen(a), &widen(b))?)?;
    let underflow = out
        .iter()
        .zip(a.iter().zip(b))
        .any(|(r, (x, y))| r.to_f32() == 0.0 && x.to_f32() != 0.0 && y.to_f32() != 0.0);
    if underflow {
        return Err(VectorError::Underflow);
    }
    Ok(out)
}
