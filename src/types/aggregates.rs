//! `avg(vector)` support: the state is float8[] `[count, sums...]`, so partial aggregates
//! from parallel workers combine without serialisation functions. `sum(vector)` needs
//! nothing here: it is `vector_add` as both transition and combine function.

use super::datum::Vector;
use crate::error::{raise_for, OrRaise};
use hnsw_core::{ops, VectorError};
use pgrx::datum::Array;
use pgrx::prelude::*;

/// The values of a state array of `avg(ty)`: one-dimensional and without NULLs, or an
/// ERROR (a state typed in by hand may be any float8[]).
pub(super) fn state_values(state: Array<'_, f64>, ty: &str) -> Vec<f64> {
    // [count, one sum per dimension]: anything longer is refused before it is copied.
    if state.len() > hnsw_core::MAX_DIM + 1 {
        raise_for(VectorError::TooManyDimensions, ty);
    }
    let has_nulls = state.contains_nulls();
    let values: Vec<f64> = state.iter().map(|x| x.unwrap_or(f64::NAN)).collect();
    // SAFETY: into_array_type hands back the detoasted array, which lives in the call's
    // memory context; only its header is read.
    let ndim = unsafe { (*state.into_array_type()).ndim };
    if ndim != 1 || has_nulls {
        raise_for(VectorError::InvalidAggregateState, ty);
    }
    values
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_accum(state: Array<'_, f64>, v: Vector) -> Vec<f64> {
    let mut state = state_values(state, "vector");
    ops::accumulate(&mut state, v.as_slice()).or_raise();
    state
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_combine(a: Array<'_, f64>, b: Array<'_, f64>) -> Vec<f64> {
    ops::combine(&state_values(a, "vector"), &state_values(b, "vector")).or_raise()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_avg(state: Array<'_, f64>) -> Option<Vector> {
    ops::average(&state_values(state, "vector"))
        .or_raise()
        .map(|v| Vector::from_slice(&v))
}
