//! Element-wise arithmetic and the other vector functions, with pgvector's semantics:
//! results that leave the float4 range are errors, never silent infinities.

use crate::error::{check_dimensions, check_same_dimensions, VectorError};
use std::cmp::Ordering;

fn zip_checked(
    a: &[f32],
    b: &[f32],
    op: impl Fn(f32, f32) -> f32,
) -> Result<Vec<f32>, VectorError> {
    check_same_dimensions(a, b)?;
    let out: Vec<f32> = a.iter().zip(b).map(|(&x, &y)| op(x, y)).collect();
    if out.iter().any(|r| r.is_infinite()) {
        return Err(VectorError::Overflow);
    }
    Ok(out)
}

pub fn add(a: &[f32], b: &[f32]) -> Result<Vec<f32>, VectorError> {
    zip_checked(a, b, |x, y| x + y)
}

pub fn sub(a: &[f32], b: &[f32]) -> Result<Vec<f32>, VectorError> {
    zip_checked(a, b, |x, y| x - y)
}

/// Element-wise product; a product of non-zero factors that rounds to zero is an underflow.
pub fn mul(a: &[f32], b: &[f32]) -> Result<Vec<f32>, VectorError> {
    let out = zip_checked(a, b, |x, y| x * y)?;
    let underflow = out
        .iter()
        .zip(a.iter().zip(b))
        .any(|(&r, (&x, &y))| r == 0.0 && x != 0.0 && y != 0.0);
    if underflow {
        return Err(VectorError::Underflow);
    }
    Ok(out)
}

pub fn concat(a: &[f32], b: &[f32]) -> Result<Vec<f32>, VectorError> {
    check_dimensions(a.len() + b.len())?;
    Ok([a, b].concat())
}

/// `count` elements from 1-based position `start`, clipped to the vector like `substring`.
pub fn subvector(a: &[f32], start: i32, count: i32) -> Result<Vec<f32>, VectorError> {
    if count < 1 {
        return Err(VectorError::NoDimensions);
    }
    // Work in i64 so start + count cannot overflow.
    let first = (start as i64).max(1);
    let end = (start as i64 + count as i64).min(a.len() as i64 + 1);
    if first >= end {
        return Err(VectorError::NoDimensions);
    }
    Ok(a[(first - 1) as usize..(end - 1) as usize].to_vec())
}

/// Euclidean norm, accumulated in double precision from +0 (Rust's `sum` starts from -0,
/// and a sparse vector with no non-zeros would have the norm `-0`).
pub fn norm(a: &[f32]) -> f64 {
    a.iter()
        .fold(0.0, |sum, &x| sum + x as f64 * x as f64)
        .sqrt()
}

/// The unit vector in a's direction; the zero vector stays zero.
pub fn l2_normalize(a: &[f32]) -> Result<Vec<f32>, VectorError> {
    let n = norm(a);
    if n == 0.0 {
        return Ok(a.to_vec());
    }
    let out: Vec<f32> = a.iter().map(|&x| (x as f64 / n) as f32).collect();
    if out.iter().any(|r| r.is_infinite()) {
        return Err(VectorError::Overflow);
    }
    Ok(out)
}

/// The btree order: element by element, then the shorter vector first.
pub fn compare(a: &[f32], b: &[f32]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return Ordering::Less;
        }
        if x > y {
            return Ordering::Greater;
        }
    }
    a.len().cmp(&b.len())
}

/// The `avg(vector)` transition: state is `[count, sum_1, ..., sum_n]` in float8, and
/// starts as `[0]` (the aggregate's INITCOND), taking its length from the first vector.
pub fn accumulate(state: &mut Vec<f64>, v: &[f32]) -> Result<(), VectorError> {
    check_state(state)?;
    if state.len() <= 1 {
        state.clear();
        state.push(0.0);
        state.resize(1 + v.len(), 0.0);
    } else if state.len() - 1 != v.len() {
        return Err(VectorError::TypmodMismatch {
            expected: (state.len() - 1) as i64,
            actual: v.len(),
        });
    }
    state[0] += 1.0;
    for (s, &x) in state[1..].iter_mut().zip(v) {
        *s += x as f64;
    }
    Ok(())
}

/// An `avg` state is `[count]` or `[count, sums...]` with a whole count >= 0 (one made by
/// hand may hold anything).
pub fn check_state(state: &[f64]) -> Result<(), VectorError> {
    match state.first() {
        Some(&count) if count >= 0.0 && count.is_finite() && count.fract() == 0.0 => Ok(()),
        _ => Err(VectorError::InvalidAggregateState),
    }
}

/// Merges two `avg` states (parallel aggregation).
pub fn combine(a: &[f64], b: &[f64]) -> Result<Vec<f64>, VectorError> {
    check_state(a)?;
    check_state(b)?;
    let empty = |s: &[f64]| s.len() <= 1 || s[0] == 0.0;
    if empty(b) {
        return Ok(a.to_vec());
    }
    if empty(a) {
        return Ok(b.to_vec());
    }
    if a.len() != b.len() {
        return Err(VectorError::TypmodMismatch {
            expected: (a.len() - 1) as i64,
            actual: b.len() - 1,
        });
    }
    Ok(a.iter().zip(b).map(|(x, y)| x + y).collect())
}

/// The mean from an `avg` state, or `None` when no rows were seen.
pub fn average(state: &[f64]) -> Result<Option<Vec<f32>>, VectorError> {
    check_state(state)?;
    if state.len() <= 1 || state[0] == 0.0 {
        return Ok(None);
    }
    let count = state[0];
    let out: Vec<f32> = state[1..].iter().map(|&s| (s / count) as f32).collect();
    // A state typed in by hand (`vector_avg('{1,NaN}')`) may hold anything.
    if out.iter().any(|r| r.is_nan()) {
        return Err(VectorError::NotANumber);
    }
    if out.iter().any(|r| r.is_infinite()) {
        return Err(VectorError::Overflow);
    }
    check_dimensions(out.len())?;
    Ok(Some(out))
}
