//! Distance functions, arithmetic, comparison and the other `vector` functions.
//! Distances go straight to the kernels chosen at load time.

use super::datum::Vector;
use crate::error::OrRaise;
use hnsw_core::distance::kernels;
use hnsw_core::error::check_same_dimensions;
use hnsw_core::ops;
use pgrx::prelude::*;
use std::cmp::Ordering;

/// Both operands as slices, after checking they have the same length.
fn pair<'a>(a: &'a Vector, b: &'a Vector) -> (&'a [f32], &'a [f32]) {
    let (a, b) = (a.as_slice(), b.as_slice());
    check_same_dimensions(a, b).or_raise();
    (a, b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn l2_distance(a: Vector, b: Vector) -> f64 {
    let (a, b) = pair(&a, &b);
    kernels().l2_distance(a, b)
}

/// The squared distance the index orders by (skips the square root).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_l2_squared_distance(a: Vector, b: Vector) -> f64 {
    let (a, b) = pair(&a, &b);
    (kernels().l2_squared)(a, b) as f64
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn inner_product(a: Vector, b: Vector) -> f64 {
    let (a, b) = pair(&a, &b);
    (kernels().inner_product)(a, b) as f64
}

/// `<#>`: smaller is closer, so an index can order by it ascending.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_negative_inner_product(a: Vector, b: Vector) -> f64 {
    -inner_product(a, b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn cosine_distance(a: Vector, b: Vector) -> f64 {
    let (a, b) = pair(&a, &b);
    kernels().cosine_distance(a, b)
}

/// Angular distance in [0, 1] (acos of the similarity over pi); the zero vector gives NaN.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_spherical_distance(a: Vector, b: Vector) -> f64 {
    let similarity = 1.0 - cosine_distance(a, b);
    similarity.clamp(-1.0, 1.0).acos() / std::f64::consts::PI
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn l1_distance(a: Vector, b: Vector) -> f64 {
    let (a, b) = pair(&a, &b);
    (kernels().l1)(a, b) as f64
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_dims(a: Vector) -> i32 {
    a.dims() as i32
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_norm(a: Vector) -> f64 {
    ops::norm(a.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn l2_normalize(a: Vector) -> Vector {
    Vector::from_slice(&ops::l2_normalize(a.as_slice()).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn subvector(a: Vector, start: i32, count: i32) -> Vector {
    Vector::from_slice(&ops::subvector(a.as_slice(), start, count).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_add(a: Vector, b: Vector) -> Vector {
    Vector::from_slice(&ops::add(a.as_slice(), b.as_slice()).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_sub(a: Vector, b: Vector) -> Vector {
    Vector::from_slice(&ops::sub(a.as_slice(), b.as_slice()).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_mul(a: Vector, b: Vector) -> Vector {
    Vector::from_slice(&ops::mul(a.as_slice(), b.as_slice()).or_raise())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_concat(a: Vector, b: Vector) -> Vector {
    Vector::from_slice(&ops::concat(a.as_slice(), b.as_slice()).or_raise())
}

fn order(a: &Vector, b: &Vector) -> Ordering {
    ops::compare(a.as_slice(), b.as_slice())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_cmp(a: Vector, b: Vector) -> i32 {
    order(&a, &b) as i32
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_lt(a: Vector, b: Vector) -> bool {
    order(&a, &b).is_lt()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_le(a: Vector, b: Vector) -> bool {
    order(&a, &b).is_le()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_eq(a: Vector, b: Vector) -> bool {
    order(&a, &b).is_eq()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_ne(a: Vector, b: Vector) -> bool {
    order(&a, &b).is_ne()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_ge(a: Vector, b: Vector) -> bool {
    order(&a, &b).is_ge()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_gt(a: Vector, b: Vector) -> bool {
    order(&a, &b).is_gt()
}
