//! Differential tests: every kernel the CPU can run against the scalar reference.

use hnsw_core::distance::{kernels, Implementation, Kernels};
use hnsw_core::element::f16;
use proptest::prelude::*;

fn available() -> Vec<Kernels> {
    Implementation::ALL
        .iter()
        .filter_map(|i| i.kernels())
        .collect()
}

fn scalar() -> Kernels {
    Implementation::Scalar.kernels().unwrap()
}

/// Relative closeness, scaled by the sum of magnitudes so cancellation does not blow up
/// the tolerance test (summation order differs between kernels).
fn close(expected: f32, actual: f32, magnitude: f32) {
    let tol = 1e-5 * magnitude.max(1.0);
    assert!(
        (expected - actual).abs() <= tol,
        "expected {expected}, got {actual} (tolerance {tol})"
    );
}

fn check_all(a: &[f32], b: &[f32]) {
    let s = scalar();
    let mag_l2: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let mag_ip: f32 = a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum();
    let mag_l1: f32 = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum();
    let mag_a: f32 = a.iter().map(|x| x * x).sum();
    let mag_b: f32 = b.iter().map(|x| x * x).sum();
    // Against float16 elements: `b` rounded, compared with the float32 kernels on the
    // rounded values (every float16 is exactly a float32).
    let halves: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
    let widened: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
    let mag_l2_h: f32 = a.iter().zip(&widened).map(|(x, y)| (x - y) * (x - y)).sum();
    let mag_l1_h: f32 = a.iter().zip(&widened).map(|(x, y)| (x - y).abs()).sum();
    for k in available() {
        close(
            (s.l2_squared)(a, &widened),
            (k.l2_squared_f16)(a, &halves),
            mag_l2_h,
        );
        close(
            (s.inner_product)(a, &widened),
            (k.inner_product_f16)(a, &halves),
            mag_ip,
        );
        close((s.l1)(a, &widened), (k.l1_f16)(a, &halves), mag_l1_h);
        let (d0, a0, b0) = (s.dot_and_norms)(a, &widened);
        let (d1, a1, b1) = (k.dot_and_norms_f16)(a, &halves);
        close(d0, d1, mag_ip);
        close(a0, a1, mag_a);
        close(b0, b1, b0);
        close((s.l2_squared)(a, b), (k.l2_squared)(a, b), mag_l2);
        close((s.inner_product)(a, b), (k.inner_product)(a, b), mag_ip);
        close((s.l1)(a, b), (k.l1)(a, b), mag_l1);
        let (d0, a0, b0) = (s.dot_and_norms)(a, b);
        let (d1, a1, b1) = (k.dot_and_norms)(a, b);
        close(d0, d1, mag_ip);
        close(a0, a1, mag_a);
        close(b0, b1, mag_b);
    }
}

fn pair(len: std::ops::Range<usize>) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    len.prop_flat_map(|n| {
        (
            prop::collection::vec(-100.0f32..100.0, n),
            prop::collection::vec(-100.0f32..100.0, n),
        )
    })
}

proptest! {
    #[test]
    fn short_vectors_match_scalar((a, b) in pair(0..70)) {
        check_all(&a, &b);
    }

    #[test]
    fn long_vectors_match_scalar((a, b) in pair(3990..4010)) {
        check_all(&a, &b);
    }
}

#[test]
fn every_length_up_to_70_exact_on_integers() {
    // Small integers sum exactly in f32 whatever the order: results must be identical.
    for n in 0..70 {
        let a: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
        let b: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
        let s = scalar();
        for k in available() {
            assert_eq!(
                (s.l2_squared)(&a, &b),
                (k.l2_squared)(&a, &b),
                "l2 n={n} {:?}",
                k.implementation
            );
            assert_eq!(
                (s.inner_product)(&a, &b),
                (k.inner_product)(&a, &b),
                "ip n={n}"
            );
            assert_eq!((s.l1)(&a, &b), (k.l1)(&a, &b), "l1 n={n}");
            let halves: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
            assert_eq!(
                (s.l2_squared)(&a, &b),
                (k.l2_squared_f16)(&a, &halves),
                "l2 f16 n={n}"
            );
            assert_eq!(
                (s.inner_product)(&a, &b),
                (k.inner_product_f16)(&a, &halves),
                "ip f16 n={n}"
            );
            assert_eq!((s.l1)(&a, &b), (k.l1_f16)(&a, &halves), "l1 f16 n={n}");
            assert_eq!(
                (s.dot_and_norms)(&a, &b),
                (k.dot_and_norms_f16)(&a, &halves),
                "cos f16 n={n}"
            );
            assert_eq!(
                (s.dot_and_norms)(&a, &b),
                (k.dot_and_norms)(&a, &b),
                "cos n={n}"
            );
        }
    }
}

#[test]
fn known_values() {
    let k = kernels();
    let a = [1.0, 2.0, 3.0];
    let b = [4.0, 5.0, 6.0];
    assert_eq!((k.l2_squared)(&a, &b), 27.0);
    assert_eq!(k.l2_distance(&[0.0, 0.0], &[3.0, 4.0]), 5.0);
    assert_eq!((k.inner_product)(&a, &b), 32.0);
    assert_eq!((k.l1)(&a, &b), 9.0);
    assert!((k.cosine_distance(&a, &b) - (1.0 - 32.0 / (14.0f64 * 77.0).sqrt())).abs() < 1e-7);
    assert_eq!(k.cosine_distance(&[1.0, 1.0], &[2.0, 2.0]), 0.0);
    assert_eq!(k.cosine_distance(&[1.0, 1.0], &[-1.0, -1.0]), 2.0);
}

#[test]
fn cosine_with_a_zero_vector_is_nan() {
    for k in available() {
        assert!(k.cosine_distance(&[0.0, 0.0], &[1.0, 2.0]).is_nan());
        assert!(k.cosine_distance(&[1.0, 2.0], &[0.0, 0.0]).is_nan());
    }
}

#[test]
fn dispatch_picks_the_fastest_available() {
    let chosen = kernels().implementation;
    assert!(chosen.is_available());
    let best = Implementation::ALL
        .iter()
        .rev()
        .find(|i| i.is_available())
        .unwrap();
    assert_eq!(chosen, *best);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
    {
        assert_eq!(chosen, Implementation::Avx2Fma);
    }
}

/// Bits 32 to a slot, as `hnsw_core::bits::to_slots` packs them.
fn bit_slots(bits: &[bool]) -> Vec<f32> {
    let bytes = hnsw_core::bits::quantize(
        &bits
            .iter()
            .map(|&b| if b { 1.0 } else { 0.0 })
            .collect::<Vec<f32>>(),
    );
    hnsw_core::bits::to_slots(&bytes)
}

proptest! {
    #[test]
    fn bit_kernels_match_scalar_and_count_bits(
        (a, b) in (0usize..2100).prop_flat_map(|n| (
            prop::collection::vec(any::<bool>(), n),
            prop::collection::vec(any::<bool>(), n),
        ))
    ) {
        let (sa, sb) = (bit_slots(&a), bit_slots(&b));
        prop_assert_eq!(sa.len(), a.len().div_ceil(32));
        let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count() as f32;
        let both = a.iter().zip(&b).filter(|(x, y)| **x && **y).count() as u32;
        let ones = |v: &[bool]| v.iter().filter(|x| **x).count() as u32;
        for k in available() {
            prop_assert_eq!((k.hamming)(&sa, &sb), differ);
            prop_assert_eq!((k.bit_counts)(&sa, &sb), (both, ones(&a), ones(&b)));
        }
    }
}

#[test]
fn jaccard_distance_is_pgvectors() {
    use hnsw_core::distance::jaccard_distance;
    assert_eq!(jaccard_distance((0, 0, 0)), 1.0, "no bit set in both");
    assert_eq!(jaccard_distance((0, 3, 2)), 1.0);
    assert_eq!(jaccard_distance((2, 2, 2)), 0.0);
    assert_eq!(jaccard_distance((1, 2, 2)), 1.0 - 1.0 / 3.0);
}

#[test]
fn binary_quantize_sets_bits_of_positive_elements_first_bit_high() {
    use hnsw_core::bits::quantize;
    assert_eq!(
        quantize(&[1.0, -1.0, 0.0, 2.0, 3.0, -4.0, 5.0, 6.0, 7.0]),
        [0b1001_1011, 0b1000_0000]
    );
    assert_eq!(quantize(&[-0.0, f32::MIN_POSITIVE]), [0b0100_0000]);
}

#[test]
fn products_that_round_to_zero_sum_to_positive_zero_in_every_kernel() {
    for n in [1, 7, 8, 16, 40] {
        let (a, b) = (vec![-1e-30f32; n], vec![1e-30f32; n]);
        // The smallest half (about 6e-8) times -1e-39 is far below float4's least value.
        let (tiny, halves) = (vec![-1e-39f32; n], vec![f16::from_f32(6e-8); n]);
        for k in available() {
            for dot in [
                (k.inner_product)(&a, &b),
                (k.inner_product_f16)(&tiny, &halves),
            ] {
                assert!(dot == 0.0 && dot.is_sign_positive(), "{n}: {dot:?}");
            }
        }
    }
}
