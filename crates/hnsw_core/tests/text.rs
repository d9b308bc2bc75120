//! The vector text format: round trips and every input error.

use hnsw_core::text::{format_vector, parse_vector};
use hnsw_core::{VectorError, MAX_DIM};
use proptest::prelude::*;

fn fmt1(x: f32) -> String {
    let s = format_vector(&[x]);
    s[1..s.len() - 1].to_string()
}

#[test]
fn parses_with_whitespace() {
    assert_eq!(parse_vector("[1,2,3]").unwrap(), vec![1.0, 2.0, 3.0]);
    assert_eq!(
        parse_vector("  [ 1 ,\t2.5 ,-3e2 ]  ").unwrap(),
        vec![1.0, 2.5, -300.0]
    );
    assert_eq!(parse_vector("[+1,.5,1.]").unwrap(), vec![1.0, 0.5, 1.0]);
}

#[test]
fn formats_like_float4out() {
    assert_eq!(format_vector(&[1.0, 2.5, -3.0]), "[1,2.5,-3]");
    assert_eq!(fmt1(0.0), "0");
    assert_eq!(fmt1(-0.0), "-0");
    assert_eq!(fmt1(0.1), "0.1");
    assert_eq!(fmt1(1.0 / 3.0), "0.33333334");
    assert_eq!(fmt1(123456.0), "123456");
    assert_eq!(fmt1(1234567.0), "1.234567e+06");
    assert_eq!(fmt1(1e6), "1e+06");
    assert_eq!(fmt1(100.0), "100");
    assert_eq!(fmt1(0.0001), "0.0001");
    assert_eq!(fmt1(0.00001), "1e-05");
    assert_eq!(fmt1(1.5e-7), "1.5e-07");
    assert_eq!(fmt1(f32::MAX), "3.4028235e+38");
    assert_eq!(fmt1(f32::MIN_POSITIVE), "1.1754944e-38");
    assert_eq!(fmt1(1e-45), "1e-45");
    // Two shortest candidates equally near: the even last digit, as float4out.
    assert_eq!(fmt1(5.191_406_25), "5.1914062");
    // The shortest digits lie exactly halfway to the next float: float4out takes more.
    assert_eq!(fmt1(97_508_896.0), "9.7508896e+07");
    assert_eq!(fmt1(-36_013_312.0), "-3.6013312e+07");
    assert_eq!(fmt1(4.933_919_7e9), "4.9339197e+09");
}

proptest! {
    #[test]
    fn round_trips_every_finite_float(bits in any::<u32>()) {
        let x = f32::from_bits(bits);
        prop_assume!(x.is_finite());
        let back = parse_vector(&format_vector(&[x])).unwrap();
        prop_assert_eq!(back[0].to_bits(), x.to_bits());
    }

    #[test]
    fn round_trips_vectors(v in prop::collection::vec(-1e6f32..1e6, 1..50)) {
        prop_assert_eq!(parse_vector(&format_vector(&v)).unwrap(), v);
    }

    #[test]
    fn never_panics_on_garbage(s in "\\PC{0,40}") {
        let _ = parse_vector(&s);
    }
}

fn syntax(literal: &str) -> Option<&'static str> {
    match parse_vector(literal) {
        Err(VectorError::InvalidSyntax { literal: l, detail }) => {
            assert_eq!(l, literal);
            detail
        }
        other => panic!("{literal:?}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn syntax_errors() {
    assert_eq!(
        syntax("1,2"),
        Some("Vector contents must start with \"[\".")
    );
    assert_eq!(syntax(""), Some("Vector contents must start with \"[\"."));
    assert_eq!(syntax("[1,2"), Some("Vector contents must end with \"]\"."));
    assert_eq!(syntax("[1,2] x"), Some("Junk after closing right brace."));
    assert_eq!(syntax("[1,,2]"), None);
    assert_eq!(syntax("[1,]"), None);
    assert_eq!(syntax("[,1]"), None);
    assert_eq!(syntax("[a]"), None);
    assert_eq!(syntax("[1 2]"), None);
    assert_eq!(syntax("[1;2]"), None);
    assert_eq!(syntax("[0x10]"), None);
    let e = parse_vector("[x]").unwrap_err();
    assert_eq!(e.sqlstate(), "22P02");
    assert_eq!(
        e.to_string(),
        "invalid input syntax for type vector: \"[x]\""
    );
}

#[test]
fn value_errors() {
    assert_eq!(parse_vector("[]"), Err(VectorError::NoDimensions));
    assert_eq!(parse_vector(" [ ] "), Err(VectorError::NoDimensions));
    assert_eq!(parse_vector("[NaN]"), Err(VectorError::NotANumber));
    assert_eq!(parse_vector("[1,nan]"), Err(VectorError::NotANumber));
    assert_eq!(parse_vector("[inf]"), Err(VectorError::Infinite));
    assert_eq!(parse_vector("[-Infinity]"), Err(VectorError::Infinite));
    assert_eq!(
        parse_vector("[1e39]"),
        Err(VectorError::OutOfRange {
            token: "1e39".into()
        })
    );
    assert_eq!(parse_vector("[-1e39]").unwrap_err().sqlstate(), "22003");
    assert_eq!(parse_vector("[1e-50]").unwrap(), vec![0.0]);
    assert_eq!(parse_vector("[NaN]").unwrap_err().sqlstate(), "22000");
}

#[test]
fn dimension_limit() {
    let ok = format!("[{}]", vec!["1"; MAX_DIM].join(","));
    assert_eq!(parse_vector(&ok).unwrap().len(), MAX_DIM);
    let too_many = format!("[{}]", vec!["1"; MAX_DIM + 1].join(","));
    let e = parse_vector(&too_many).unwrap_err();
    assert_eq!(e, VectorError::TooManyDimensions);
    assert_eq!(e.sqlstate(), "54000");
    assert_eq!(
        e.to_string(),
        "vector cannot have more than 16000 dimensions"
    );
}

#[test]
fn halfvec_literals_round_to_float16() {
    use hnsw_core::element::{f16, widen};
    use hnsw_core::text::parse_halfvec;
    let v = parse_halfvec("[0.1, 1, 65504, -65504, 1e-8]").unwrap();
    assert_eq!(
        format_vector(&widen(&v)),
        "[0.099975586,1,65504,-65504,0]",
        "pgvector's output for the same literal"
    );
    assert_eq!(v[1], f16::ONE);
    let too_big = parse_halfvec("[65520]").unwrap_err();
    assert_eq!(
        too_big.message("halfvec"),
        "\"65520\" is out of range for type halfvec"
    );
    assert_eq!(too_big.sqlstate(), "22003");
    let vector_range = parse_halfvec("[1e39]").unwrap_err();
    assert_eq!(vector_range.sqlstate(), "22003");
    for (literal, message) in [
        ("[inf]", "infinite value not allowed in halfvec"),
        ("[NaN]", "NaN not allowed in halfvec"),
        ("[]", "halfvec must have at least 1 dimension"),
        ("[1,x]", "invalid input syntax for type halfvec: \"[1,x]\""),
    ] {
        assert_eq!(
            parse_halfvec(literal).unwrap_err().message("halfvec"),
            message
        );
    }
}
