//! The `vector` and `halfvec` types: their datum layout, I/O, casts, functions and
//! aggregates.

pub(super) mod aggregates;
mod bit;
pub(super) mod casts;
mod datum;

pub use datum::{HalfVec, Vector};
mod functions;
mod halfvec;
mod sparsevec;
pub use sparsevec::SparseVec;
pub(super) mod io;

use hnsw_core::element::Element;

/// The values of a `vector`, `halfvec`, `bit` or `sparsevec` datum in the `&[f32]` form
/// an index builds, inserts and searches with: borrowed from a `vector`, widened from a
/// `halfvec`, a `bit`'s bits 32 to a slot (`hnsw_core::bits::to_slots`), a `sparsevec`'s
/// slot form (`Sparse::to_slots`).
pub enum Values {
    Vector(Vector),
    Widened(Vec<f32>),
    Bits { slots: Vec<f32>, len: usize },
    Sparse { slots: Vec<f32>, dim: usize },
}

impl Values {
    /// # Safety
    /// `datum` must be a non-null datum of the type `element` says (`F32`: `vector`,
    /// `F16`: `halfvec`, `Bit`: `bit`, `Sparse`: `sparsevec`).
    pub unsafe fn from_datum(datum: pgrx::pg_sys::Datum, element: Element) -> Values {
        match element {
            // SAFETY: the caller says the datum is a vector.
            Element::F32 => Values::Vector(unsafe { Vector::from_datum(datum) }),
            // SAFETY: the caller says the datum is a halfvec.
            Element::F16 => Values::Widened(unsafe { HalfVec::from_datum(datum) }.to_f32()),
            Element::Bit => {
                // SAFETY: the caller says the datum is a bit.
                let bits = unsafe { bit::BitString::from_datum(datum) };
                Values::Bits {
                    slots: hnsw_core::bits::to_slots(bits.bytes()),
                    len: bits.len(),
                }
            }
            Element::Sparse => {
                // SAFETY: the caller says the datum is a sparsevec.
                let v = unsafe { SparseVec::from_datum(datum) };
                Values::Sparse {
                    slots: v.sparse().to_slots(),
                    dim: v.sparse().dim,
                }
            }
        }
    }

    pub fn as_slice(&self) -> &[f32] {
        match self {
            Values::Vector(v) => v.as_slice(),
            Values::Widened(v) => v,
            Values::Bits { slots, .. } | Values::Sparse { slots, .. } => slots,
        }
    }

    /// Dimensions: elements, or bits.
    pub fn dims(&self) -> usize {
        match self {
            Values::Bits { len, .. } => *len,
            Values::Sparse { dim, .. } => *dim,
            _ => self.as_slice().len(),
        }
    }
}
