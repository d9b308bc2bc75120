//! sparsevec: text and binary formats (with 100,000 hostile inputs each, as fuzz.rs does
//! for vector), pgvector's checks, and distances equal to the dense ones.

use hnsw_core::distance::kernels;
use hnsw_core::sparse::{
    decode, decode_for, encode, format_sparsevec, parse_sparsevec, parse_sparsevec_for, Sparse,
    SparseError,
};
use hnsw_core::VectorError;
use proptest::prelude::*;

#[path = "common/cases.rs"]
mod cases;
use cases::config;

fn valid(v: &Sparse) -> bool {
    v.dim >= 1
        && v.indices.len() == v.values.len()
        && v.indices.windows(2).all(|w| w[0] < w[1])
        && v.indices.iter().all(|&i| (i as usize) < v.dim)
        && v.values.iter().all(|x| x.is_finite() && *x != 0.0)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn text_input_is_a_sparsevec_or_an_error(s in prop_oneof![
        "\\PC{0,40}",
        "[ \\{\\}/:0-9.,eE+\\-naNifINFty\t]{0,40}",
        (prop::collection::vec((1u32..12, -5.0f32..5.0), 0..6), 1u32..14).prop_map(|(pairs, dim)| {
            let body: Vec<String> = pairs.iter().map(|(i, v)| format!("{i}:{v}")).collect();
            format!("{{{}}}/{dim}", body.join(","))
        }),
    ]) {
        match parse_sparsevec(&s) {
            Ok(v) => {
                prop_assert!(valid(&v));
                prop_assert_eq!(parse_sparsevec(&format_sparsevec(&v)).unwrap(), v);
            }
            Err(e) => prop_assert_eq!(e.sqlstate().len(), 5),
        }
    }

    #[test]
    fn binary_input_is_a_sparsevec_or_an_error(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..60),
        (1i32..20, 0i32..4, prop_oneof![Just(0i32), any::<i32>()], prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(dim, nnz, unused, tail)| {
                let mut b = dim.to_be_bytes().to_vec();
                b.extend_from_slice(&nnz.to_be_bytes());
                b.extend_from_slice(&unused.to_be_bytes());
                b.extend(tail);
                b
            }),
    ]) {
        match decode(&bytes) {
            Ok((v, used)) => {
                prop_assert!(valid(&v));
                prop_assert_eq!(used, 12 + 8 * v.indices.len());
                prop_assert_eq!(&encode(&v)[..], &bytes[..used]);
            }
            Err(e) => prop_assert_eq!(e.sqlstate().len(), 5),
        }
    }

    #[test]
    fn distances_equal_the_dense_ones(
        (a, b) in (1usize..40).prop_flat_map(|n| (
            prop::collection::vec(prop_oneof![Just(0.0f32), -10.0f32..10.0], n),
            prop::collection::vec(prop_oneof![Just(0.0f32), -10.0f32..10.0], n),
        ))
    ) {
        let (sa, sb) = (Sparse::from_dense(&a), Sparse::from_dense(&b));
        prop_assert_eq!(sa.to_dense(), a.clone());
        let k = kernels();
        let close = |x: f32, y: f32| (x - y).abs() <= 1e-4 * x.abs().max(1.0);
        prop_assert!(close(sa.l2_squared(&sb), (k.l2_squared)(&a, &b)));
        prop_assert!(close(sa.inner_product(&sb), (k.inner_product)(&a, &b)));
        prop_assert!(close(sa.l1(&sb), (k.l1)(&a, &b)));
        let (c1, c2) = (sa.cosine_distance(&sb), k.cosine_distance(&a, &b));
        prop_assert!((c1.is_nan() && c2.is_nan()) || (c1 - c2).abs() < 1e-5);
        prop_assert_eq!(sa.compare(&sb), hnsw_core::ops::compare(&a, &b));
    }
}

#[test]
fn text_format_is_pgvectors() {
    let v = parse_sparsevec(" { 3:2 , 1:1.5, 2:0 } / 5 ").unwrap();
    assert_eq!(v.indices, [0, 2]);
    assert_eq!(v.values, [1.5, 2.0]);
    assert_eq!(format_sparsevec(&v), "{1:1.5,3:2}/5");
    assert_eq!(format_sparsevec(&parse_sparsevec("{}/3").unwrap()), "{}/3");
    let err = |s: &str| parse_sparsevec(s).unwrap_err();
    assert_eq!(
        err("{1:1,1:2}/3"),
        VectorError::Sparse(SparseError::Duplicate)
    );
    // pgvector's bounds: 1 to the dimensions, checked after them and for non-zeros only.
    for outside in [
        "{4:1}/3",
        "{0:1}/3",
        "{-1:1}/3",
        "{2147483648:1}/3",
        "{99999999999999999999:1}/3",
    ] {
        assert_eq!(
            err(outside),
            VectorError::Sparse(SparseError::IndexOutOfBounds),
            "{outside}"
        );
    }
    assert_eq!(err("{0:1}/3").sqlstate(), "22000");
    assert_eq!(
        err("{0:1}/3").message("sparsevec"),
        "sparsevec index out of bounds"
    );
    assert_eq!(err("{0:1}/0"), VectorError::NoDimensions);
    assert_eq!(
        format_sparsevec(&parse_sparsevec("{0:0,9:0}/3").unwrap()),
        "{}/3"
    );
    assert_eq!(err("{1:1}/0"), VectorError::NoDimensions);
    assert_eq!(err("{1:1}/1000000001").sqlstate(), "54000");
    assert_eq!(err("{1:NaN}/3"), VectorError::NotANumber);
    assert_eq!(err("{1:1e39}/3").sqlstate(), "22003");
    assert_eq!(
        err("[1,2]").message("sparsevec"),
        "invalid input syntax for type sparsevec: \"[1,2]\""
    );
    assert_eq!(err("{1:1}").detail(), Some("Unexpected end of input."));
    assert_eq!(err("{1:1}/3 x").detail(), Some("Junk after closing."));
    let many = format!(
        "{{{}}}/20000",
        (1..=16_001)
            .map(|i| format!("{i}:1"))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        err(&many),
        VectorError::Sparse(SparseError::TooManyNonZeros)
    );
}

#[test]
fn binary_errors() {
    let header = |dim: i32, nnz: i32, unused: i32| {
        [dim.to_be_bytes(), nnz.to_be_bytes(), unused.to_be_bytes()].concat()
    };
    let e = |b: &[u8]| decode(b).unwrap_err();
    assert_eq!(
        e(&header(3, 1, 1)),
        VectorError::UnusedNotZero { unused: 1 }
    );
    assert_eq!(
        e(&header(3, 4, 0)),
        VectorError::Sparse(SparseError::MoreElementsThanDimensions)
    );
    assert_eq!(
        e(&header(3, -1, 0)),
        VectorError::Sparse(SparseError::NegativeNonZeros)
    );
    assert_eq!(e(&header(3, 1, 0)), VectorError::Truncated);
    let mut zero = header(3, 1, 0);
    zero.extend_from_slice(&1i32.to_be_bytes());
    zero.extend_from_slice(&0f32.to_be_bytes());
    assert_eq!(e(&zero), VectorError::Sparse(SparseError::ZeroInBinary));
    let mut order = header(3, 2, 0);
    order.extend_from_slice(&2i32.to_be_bytes());
    order.extend_from_slice(&1i32.to_be_bytes());
    order.extend_from_slice(&[0x3f, 0x80, 0, 0, 0x3f, 0x80, 0, 0]);
    assert_eq!(e(&order), VectorError::Sparse(SparseError::NotAscending));
}

#[test]
fn values_too_small_for_float4_and_counts_past_int64_are_out_of_range() {
    let out_of_range = |s: &str| matches!(parse_sparsevec(s), Err(VectorError::OutOfRange { .. }));
    assert!(out_of_range("{1:1e-46}/2"));
    assert!(out_of_range("{1:-1e-46}/2"));
    // A zero written out is a zero (left out); a subnormal is a value.
    let v = parse_sparsevec("{1:0e10,2:-0.000,3:1e-40}/3").unwrap();
    assert_eq!(
        (v.indices.as_slice(), v.values.as_slice()),
        (&[2][..], &[1e-40f32][..])
    );
    assert_eq!(
        parse_sparsevec("{}/9223372036854775808").unwrap_err(),
        VectorError::Sparse(SparseError::TooManyDimensions)
    );
    assert_eq!(
        parse_sparsevec("{}/-9223372036854775809").unwrap_err(),
        VectorError::NoDimensions
    );
}

#[test]
fn sums_over_no_non_zeros_are_positive_zero() {
    let empty = parse_sparsevec("{}/3").unwrap();
    let (a, b) = (
        parse_sparsevec("{1:1}/3").unwrap(),
        parse_sparsevec("{2:1}/3").unwrap(),
    );
    for x in [
        empty.norm(),
        (empty.l2_squared(&empty) as f64).sqrt(),
        empty.l1(&empty) as f64,
        a.inner_product(&b) as f64,
    ] {
        assert!(x == 0.0 && x.is_sign_positive(), "{x:?}");
    }
}

#[test]
fn a_typmod_is_checked_after_the_dimensions_and_before_the_indices() {
    let mismatch = VectorError::TypmodMismatch {
        expected: 4,
        actual: 3,
    };
    assert_eq!(parse_sparsevec_for("{5:1}/3", 4).unwrap_err(), mismatch);
    assert_eq!(
        parse_sparsevec_for("{1:1}/0", 4).unwrap_err(),
        VectorError::NoDimensions
    );
    assert_eq!(
        parse_sparsevec_for("{1:NaN}/3", 4).unwrap_err(),
        VectorError::NotANumber
    );
    assert!(parse_sparsevec_for("{1:1}/4", 4).is_ok());
    let mut bytes = [
        3i32.to_be_bytes(),
        1i32.to_be_bytes(),
        0i32.to_be_bytes(),
        7i32.to_be_bytes(),
    ]
    .concat();
    bytes.extend_from_slice(&1f32.to_be_bytes());
    assert_eq!(decode_for(&bytes, 4).unwrap_err(), mismatch);
    assert_eq!(
        decode(&bytes).unwrap_err(),
        VectorError::Sparse(SparseError::IndexOutOfBounds)
    );
}
