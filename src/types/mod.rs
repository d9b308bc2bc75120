//! The `vector` and `halfvec` types: their datum layout, I/O, casts, functions and
//! aggregates.

pub(super) mod aggregates;
pub(super) mod casts;
mod datum;

pub use datum::{HalfVec, Vector};
mod functions;
mod halfvec;
pub(super) mod io;

use hnsw_core::element::Element;

/// The values of a `vector` or `halfvec` datum, as float32: what an index builds, inserts
/// and searches with (borrowed from a `vector`, widened from a `halfvec`).
pub enum Values {
    Vector(Vector),
    Widened(Vec<f32>),
}

impl Values {
    /// # Safety
    /// `datum` must be a non-null datum of the type `element` says (`F32`: `vector`,
    /// `F16`: `halfvec`).
    pub unsafe fn from_datum(datum: pgrx::pg_sys::Datum, element: Element) -> Values {
        match element {
            // SAFETY: the caller says the datum is a vector.
            Element::F32 => Values::Vector(unsafe { Vector::from_datum(datum) }),
            // SAFETY: the caller says the datum is a halfvec.
            Element::F16 => Values::Widened(unsafe { HalfVec::from_datum(datum) }.to_f32()),
        }
    }

    pub fn as_slice(&self) -> &[f32] {
        match self {
            Values::Vector(v) => v.as_slice(),
            Values::Widened(v) => v,
        }
    }
}
