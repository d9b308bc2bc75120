//! `avg(vector)` support: the state is float8[] `[count, sums...]`, so partial aggregates
//! from parallel workers combine without serialisation functions. `sum(vector)` needs
//! nothing here: it is `vector_add` as both transition and combine function.

use super::datum::Vector;
use crate::error::OrRaise;
use hnsw_core::ops;
use pgrx::prelude::*;

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_accum(state: Vec<f64>, v: Vector) -> Vec<f64> {
    let mut state = state;
    ops::accumulate(&mut state, v.as_slice()).or_raise();
    state
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_combine(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    ops::combine(&a, &b).or_raise()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_avg(state: Vec<f64>) -> Option<Vector> {
    ops::average(&state)
        .or_raise()
        .map(|v| Vector::from_slice(&v))
}
