//! Vector arithmetic and the checks the SQL functions rely on.

use hnsw_core::error::{check_typmod, check_vector, typmod_from_modifiers};
use hnsw_core::ops::*;
use hnsw_core::{VectorError, MAX_DIM};
use std::cmp::Ordering;

#[test]
fn arithmetic() {
    assert_eq!(add(&[1.0, 2.0], &[3.0, 4.0]).unwrap(), vec![4.0, 6.0]);
    assert_eq!(sub(&[1.0, 2.0], &[3.0, 5.0]).unwrap(), vec![-2.0, -3.0]);
    assert_eq!(mul(&[1.0, 2.0], &[3.0, 5.0]).unwrap(), vec![3.0, 10.0]);
    assert_eq!(concat(&[1.0], &[2.0, 3.0]).unwrap(), vec![1.0, 2.0, 3.0]);
}

#[test]
fn arithmetic_errors() {
    let mismatch = add(&[1.0], &[1.0, 2.0]).unwrap_err();
    assert_eq!(
        mismatch,
        VectorError::DimensionMismatch { left: 1, right: 2 }
    );
    assert_eq!(mismatch.to_string(), "different vector dimensions 1 and 2");
    assert_eq!(mismatch.sqlstate(), "22000");
    assert_eq!(add(&[f32::MAX], &[f32::MAX]), Err(VectorError::Overflow));
    assert_eq!(sub(&[-f32::MAX], &[f32::MAX]), Err(VectorError::Overflow));
    assert_eq!(mul(&[1e30], &[1e30]), Err(VectorError::Overflow));
    assert_eq!(mul(&[1e-30], &[1e-30]), Err(VectorError::Underflow));
    assert_eq!(mul(&[0.0], &[1e-30]).unwrap(), vec![0.0]);
    let long = vec![0.0; MAX_DIM];
    assert_eq!(concat(&long, &[1.0]), Err(VectorError::TooManyDimensions));
}

#[test]
fn subvector_clips_like_substring() {
    let v = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(subvector(&v, 1, 3).unwrap(), vec![1.0, 2.0, 3.0]);
    assert_eq!(subvector(&v, 3, 2).unwrap(), vec![3.0, 4.0]);
    assert_eq!(subvector(&v, 4, 10).unwrap(), vec![4.0, 5.0]);
    assert_eq!(subvector(&v, -1, 3).unwrap(), vec![1.0]);
    assert_eq!(
        subvector(&v, i32::MAX, i32::MAX),
        Err(VectorError::NoDimensions)
    );
    assert_eq!(subvector(&v, 6, 1), Err(VectorError::NoDimensions));
    assert_eq!(subvector(&v, 1, 0), Err(VectorError::NoDimensions));
    assert_eq!(subvector(&v, -5, 3), Err(VectorError::NoDimensions));
    assert_eq!(
        subvector(&v, i32::MIN, i32::MAX).unwrap_err(),
        VectorError::NoDimensions
    );
}

#[test]
fn norms() {
    assert_eq!(norm(&[3.0, 4.0]), 5.0);
    assert_eq!(l2_normalize(&[3.0, 4.0]).unwrap(), vec![0.6, 0.8]);
    assert_eq!(l2_normalize(&[0.0, 0.0]).unwrap(), vec![0.0, 0.0]);
    // Float4 squares would overflow; double accumulation does not.
    assert!((norm(&[3e38, 3e38]) - 3e38f32 as f64 * 2f64.sqrt()).abs() < 1e33);
}

#[test]
fn ordering() {
    assert_eq!(compare(&[1.0, 2.0], &[1.0, 3.0]), Ordering::Less);
    assert_eq!(compare(&[1.0, 2.0], &[1.0, 2.0]), Ordering::Equal);
    assert_eq!(compare(&[1.0, 2.0], &[1.0]), Ordering::Greater);
    assert_eq!(compare(&[2.0], &[1.0, 5.0]), Ordering::Greater);
}

#[test]
fn average_state() {
    let mut s = vec![0.0];
    assert_eq!(average(&s).unwrap(), None);
    accumulate(&mut s, &[1.0, 2.0]).unwrap();
    accumulate(&mut s, &[3.0, 6.0]).unwrap();
    assert_eq!(s, vec![2.0, 4.0, 8.0]);
    assert_eq!(average(&s).unwrap(), Some(vec![2.0, 4.0]));
    assert_eq!(
        accumulate(&mut s, &[1.0]),
        Err(VectorError::TypmodMismatch {
            expected: 2,
            actual: 1
        })
    );
    let mut t = vec![0.0];
    accumulate(&mut t, &[5.0, 5.0]).unwrap();
    let merged = combine(&s, &t).unwrap();
    assert_eq!(average(&merged).unwrap(), Some(vec![3.0, 13.0 / 3.0]));
    assert_eq!(combine(&[0.0], &t).unwrap(), t);
    assert_eq!(combine(&t, &[0.0]).unwrap(), t);
    assert!(combine(&[1.0, 1.0], &t).is_err());
    assert_eq!(average(&[1.0, f64::NAN]), Err(VectorError::NotANumber));
    assert_eq!(average(&[1.0, 1e300]), Err(VectorError::Overflow));
    let huge = vec![1.0; MAX_DIM + 2];
    assert_eq!(average(&huge), Err(VectorError::TooManyDimensions));
}

#[test]
fn checks() {
    assert_eq!(check_vector(&[]), Err(VectorError::NoDimensions));
    assert_eq!(check_vector(&[f32::NAN]), Err(VectorError::NotANumber));
    assert_eq!(
        check_vector(&[1.0, f32::INFINITY]),
        Err(VectorError::Infinite)
    );
    assert!(check_vector(&[1.0]).is_ok());
    assert_eq!(
        check_typmod(3, 2),
        Err(VectorError::TypmodMismatch {
            expected: 3,
            actual: 2
        })
    );
    assert!(check_typmod(-1, 2).is_ok());
    // Only -1 means none: a direct call's other negative typmod is a count to match.
    assert_eq!(
        check_typmod(-5, 3),
        Err(VectorError::TypmodMismatch {
            expected: -5,
            actual: 3
        })
    );
    assert_eq!(typmod_from_modifiers(&[3]), Ok(3));
    assert_eq!(
        typmod_from_modifiers(&[0]),
        Err(VectorError::TypmodTooSmall)
    );
    assert_eq!(
        typmod_from_modifiers(&[16001]),
        Err(VectorError::TypmodTooLarge)
    );
    assert_eq!(
        typmod_from_modifiers(&[1, 2]),
        Err(VectorError::InvalidTypmod)
    );
    assert_eq!(VectorError::UnusedNotZero { unused: 3 }.sqlstate(), "22000");
    assert_eq!(VectorError::ArrayHasNulls.sqlstate(), "22004");
}

#[test]
fn hand_made_avg_states_are_refused() {
    use hnsw_core::ops::{accumulate, average, combine};
    for bad in [
        vec![],
        vec![-1.0, 2.0],
        vec![1.5, 2.0],
        vec![f64::NAN, 1.0],
        vec![f64::INFINITY],
    ] {
        assert!(average(&bad).is_err(), "{bad:?}");
        assert!(combine(&bad, &[1.0, 2.0]).is_err(), "{bad:?}");
        assert!(accumulate(&mut bad.clone(), &[1.0]).is_err(), "{bad:?}");
    }
    assert_eq!(average(&[2.0, 4.0, 6.0]).unwrap(), Some(vec![2.0, 3.0]));
    assert_eq!(average(&[0.0, 5.0]).unwrap(), None);
}
