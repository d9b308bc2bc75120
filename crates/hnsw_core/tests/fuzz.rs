//! Hostile input to the input functions of `vector` and `halfvec`, 100,000 cases each:
//! any byte string or text either parses to a valid value that round-trips, or is an
//! error with a SQLSTATE; nothing panics. (A longer run: PROPTEST_CASES=1000000 cargo test -p hnsw_core --test fuzz.)

use hnsw_core::binary::{decode, decode_halves, encode, encode_halves};
use hnsw_core::element::{check_halves, widen};
use hnsw_core::error::check_vector;
use hnsw_core::text::{format_vector, parse_halfvec, parse_vector};
use proptest::prelude::*;

#[path = "common/cases.rs"]
mod cases;
use cases::config;

/// Text that looks like a vector literal more often than random text would.
fn literal_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[ \\[\\]0-9.,eE+\\-naNifINFty\t]{0,40}",
        prop::collection::vec(any::<f32>(), 0..8).prop_map(|v| format!("{v:?}")),
    ]
}

/// Byte strings near the binary format: a plausible header, then anything.
fn binary_like() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        (
            any::<i16>(),
            prop_oneof![Just(0i16), any::<i16>()],
            prop::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(dim, unused, tail)| {
                let mut b = dim.to_be_bytes().to_vec();
                b.extend_from_slice(&unused.to_be_bytes());
                b.extend(tail);
                b
            }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn text_input_is_a_vector_or_an_error(s in literal_like()) {
        match parse_vector(&s) {
            Ok(v) => {
                prop_assert!(check_vector(&v).is_ok());
                prop_assert_eq!(parse_vector(&format_vector(&v)).unwrap(), v);
            }
            Err(e) => prop_assert_eq!(e.sqlstate().len(), 5),
        }
    }

    #[test]
    fn binary_input_is_a_vector_or_an_error(bytes in binary_like()) {
        match decode(&bytes) {
            Ok((v, used)) => {
                prop_assert!(check_vector(&v).is_ok());
                prop_assert_eq!(used, 4 + 4 * v.len());
                prop_assert_eq!(&encode(&v)[..], &bytes[..used]);
            }
            Err(e) => prop_assert_eq!(e.sqlstate().len(), 5),
        }
    }

    #[test]
    fn text_input_is_a_halfvec_or_an_error(s in literal_like()) {
        match parse_halfvec(&s) {
            Ok(v) => {
                prop_assert!(check_halves(&v).is_ok());
                // Output is the float4 text of each half, which reads back to the same half.
                prop_assert_eq!(parse_halfvec(&format_vector(&widen(&v))).unwrap(), v);
            }
            Err(e) => prop_assert_eq!(e.sqlstate().len(), 5),
        }
    }

    #[test]
    fn binary_input_is_a_halfvec_or_an_error(bytes in binary_like()) {
        match decode_halves(&bytes) {
            Ok((v, used)) => {
                prop_assert!(check_halves(&v).is_ok());
                prop_assert_eq!(used, 4 + 2 * v.len());
                prop_assert_eq!(&encode_halves(&v)[..], &bytes[..used]);
            }
            Err(e) => prop_assert_eq!(e.sqlstate().len(), 5),
        }
    }
}

#[test]
fn binary_errors() {
    use hnsw_core::VectorError;
    assert_eq!(decode(&[0, 1, 0]), Err(VectorError::Truncated));
    assert_eq!(
        decode(&[0, 2, 0, 0, 0x3f, 0x80, 0, 0]),
        Err(VectorError::Truncated)
    );
    assert_eq!(
        decode(&[0, 1, 0, 1, 0x3f, 0x80, 0, 0]),
        Err(VectorError::UnusedNotZero { unused: 1 })
    );
    assert_eq!(decode(&[0, 0, 0, 0]), Err(VectorError::NoDimensions));
    assert_eq!(
        decode(&[0, 0, 0, 1]),
        Err(VectorError::NoDimensions),
        "count first"
    );
    assert_eq!(decode(&[0xff, 0xff, 0, 0]), Err(VectorError::NoDimensions));
    assert_eq!(
        decode(&[0x3e, 0x81, 0, 0]),
        Err(VectorError::TooManyDimensions)
    );
    assert_eq!(
        decode(&[0, 1, 0, 0, 0x7f, 0xc0, 0, 0]),
        Err(VectorError::NotANumber)
    );
    assert_eq!(
        decode(&[0, 1, 0, 0, 0x7f, 0x80, 0, 0]),
        Err(VectorError::Infinite)
    );
    assert_eq!(
        decode(&[0, 1, 0, 0, 0x3f, 0x80, 0, 0, 9]),
        Ok((vec![1.0], 8))
    );
    assert_eq!(VectorError::Truncated.sqlstate(), "08P01");
}
