//! `halfvec` functions, casts and `avg`: the `vector` code on widened values, results
//! narrowed back with pgvector's checks (`"x" is out of range for type halfvec` for
//! conversions, `value out of range: overflow` for arithmetic).

use crate::error::OrRaise;
use crate::types::aggregates::state_values;
use crate::types::casts::array_values;
use crate::types::{HalfVec, Vector};
use hnsw_core::distance::kernels;
use hnsw_core::element::{mul_halves, narrow, to_halves};
use hnsw_core::error::{check_same_dimensions, check_typmod};
use hnsw_core::ops;
use pgrx::datum::Array;
use pgrx::prelude::*;
use std::cmp::Ordering;

const TYPE: &str = "halfvec";

/// Both operands widened, after checking they have the same length.
fn pair(a: &HalfVec, b: &HalfVec) -> (Vec<f32>, Vec<f32>) {
    let (a, b) = (a.to_f32(), b.to_f32());
    check_same_dimensions(&a, &b).or_raise_for(TYPE);
    (a, b)
}

fn halves(values: &[f32]) -> HalfVec {
    HalfVec::from_slice(&narrow(values).or_raise_for(TYPE))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_distance(a: HalfVec, b: HalfVec) -> f64 {
    let (a, b) = pair(&a, &b);
    kernels().l2_distance(&a, &b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_squared_distance(a: HalfVec, b: HalfVec) -> f64 {
    let (a, b) = pair(&a, &b);
    (kernels().l2_squared)(&a, &b) as f64
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_inner_product(a: HalfVec, b: HalfVec) -> f64 {
    let (a, b) = pair(&a, &b);
    (kernels().inner_product)(&a, &b) as f64
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_negative_inner_product(a: HalfVec, b: HalfVec) -> f64 {
    -halfvec_inner_product(a, b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_cosine_distance(a: HalfVec, b: HalfVec) -> f64 {
    let (a, b) = pair(&a, &b);
    kernels().cosine_distance(&a, &b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_spherical_distance(a: HalfVec, b: HalfVec) -> f64 {
    let similarity = 1.0 - halfvec_cosine_distance(a, b);
    similarity.clamp(-1.0, 1.0).acos() / std::f64::consts::PI
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l1_distance(a: HalfVec, b: HalfVec) -> f64 {
    let (a, b) = pair(&a, &b);
    (kernels().l1)(&a, &b) as f64
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_vector_dims(a: HalfVec) -> i32 {
    a.dims() as i32
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_norm(a: HalfVec) -> f64 {
    ops::norm(&a.to_f32())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_normalize(a: HalfVec) -> HalfVec {
    halves(&ops::l2_normalize(&a.to_f32()).or_raise_for(TYPE))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_subvector(a: HalfVec, start: i32, count: i32) -> HalfVec {
    halves(&ops::subvector(&a.to_f32(), start, count).or_raise_for(TYPE))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_add(a: HalfVec, b: HalfVec) -> HalfVec {
    let (a, b) = pair(&a, &b);
    halves(&ops::add(&a, &b).or_raise_for(TYPE))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_sub(a: HalfVec, b: HalfVec) -> HalfVec {
    let (a, b) = pair(&a, &b);
    halves(&ops::sub(&a, &b).or_raise_for(TYPE))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_mul(a: HalfVec, b: HalfVec) -> HalfVec {
    HalfVec::from_slice(&mul_halves(a.as_slice(), b.as_slice()).or_raise_for(TYPE))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_concat(a: HalfVec, b: HalfVec) -> HalfVec {
    halves(&ops::concat(&a.to_f32(), &b.to_f32()).or_raise_for(TYPE))
}

fn order(a: &HalfVec, b: &HalfVec) -> Ordering {
    ops::compare(&a.to_f32(), &b.to_f32())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_cmp(a: HalfVec, b: HalfVec) -> i32 {
    order(&a, &b) as i32
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_lt(a: HalfVec, b: HalfVec) -> bool {
    order(&a, &b).is_lt()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_le(a: HalfVec, b: HalfVec) -> bool {
    order(&a, &b).is_le()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_eq(a: HalfVec, b: HalfVec) -> bool {
    order(&a, &b).is_eq()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_ne(a: HalfVec, b: HalfVec) -> bool {
    order(&a, &b).is_ne()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_ge(a: HalfVec, b: HalfVec) -> bool {
    order(&a, &b).is_ge()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_gt(a: HalfVec, b: HalfVec) -> bool {
    order(&a, &b).is_gt()
}

// ---------------------------------------------------------------- casts

/// `halfvec::halfvec(n)`: enforces the target's dimension count.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec(v: HalfVec, typmod: i32, _explicit: bool) -> HalfVec {
    check_typmod(typmod, v.dims()).or_raise_for(TYPE);
    v
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_to_vector(v: HalfVec, typmod: i32, _explicit: bool) -> Vector {
    check_typmod(typmod, v.dims()).or_raise();
    Vector::from_slice(&v.to_f32())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_to_halfvec(v: Vector, typmod: i32, _explicit: bool) -> HalfVec {
    check_typmod(typmod, v.dims()).or_raise_for(TYPE);
    HalfVec::from_slice(&to_halves(v.as_slice()).or_raise_for(TYPE))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_to_float4(v: HalfVec, _typmod: i32, _explicit: bool) -> Vec<f32> {
    v.to_f32()
}

/// One C function behind the four array casts, as `array_to_vector`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn array_to_halfvec(fcinfo: pg_sys::FunctionCallInfo) -> HalfVec {
    let values = array_values(fcinfo, TYPE);
    HalfVec::from_slice(&to_halves(&values).or_raise_for(TYPE))
}

// ---------------------------------------------------------------- avg

/// `avg(halfvec)`'s transition: the same float8[] state as `avg(vector)`'s (so the same
/// combine function serves both).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_accum(state: Array<'_, f64>, v: HalfVec) -> Vec<f64> {
    let mut state = state_values(state, TYPE);
    ops::accumulate(&mut state, &v.to_f32()).or_raise_for(TYPE);
    state
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_avg(state: Array<'_, f64>) -> Option<HalfVec> {
    ops::average(&state_values(state, TYPE))
        .or_raise_for(TYPE)
        .map(|v| HalfVec::from_slice(&to_halves(&v).or_raise_for(TYPE)))
}
