//! Product quantization's codebook: training is reproducible and beats the mean, codes
//! name the nearest centroids, a query's table sums to the distance to the decoded
//! vector, the AVX2 table kernel matches the scalar reference, and the stored form reads
//! back.

mod common;

use common::random_vectors;
use hnsw_core::codes::{Codebook, QueryTable, CENTROIDS, PQ_HEADER};
use hnsw_core::distance::{kernels, Implementation, Metric};

fn trained(dim: usize, subvectors: usize, n: usize, threads: usize) -> (Vec<f32>, Codebook) {
    let vectors = random_vectors(n, dim, dim as u64 + subvectors as u64);
    let sample: Vec<&[f32]> = vectors.chunks(dim).collect();
    let codebook = Codebook::train(dim, subvectors, &sample, 9, threads).unwrap();
    (vectors, codebook)
}

fn code_of(codebook: &Codebook, v: &[f32]) -> Vec<u8> {
    let mut code = vec![0u8; PQ_HEADER + codebook.subvectors().div_ceil(2)];
    codebook.encode(v, &mut code);
    code
}

fn squared(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[test]
fn training_is_reproducible_whatever_the_thread_count() {
    let (_, one) = trained(40, 10, 500, 1);
    let (_, two) = trained(40, 10, 500, 2);
    let (_, again) = trained(40, 10, 500, 2);
    assert_eq!(one, two);
    assert_eq!(two, again);
}

#[test]
fn supervised_training_trains_the_same_and_stops_when_the_supervisor_panics() {
    let (dim, subvectors, n) = (64, 64, 2000);
    let (vectors, plain) = trained(dim, subvectors, n, 2);
    let sample: Vec<&[f32]> = vectors.chunks(dim).collect();
    let mut calls = 0;
    let supervised =
        Codebook::train_supervised(dim, subvectors, &sample, 9, 2, Some(&mut || calls += 1))
            .unwrap();
    assert_eq!(supervised, plain);
    assert!(calls > 0, "the calling thread ran the supervisor");

    // A training of 2,000 subvectors ends soon after the supervisor's first call panics,
    // as a cancel does: far sooner than the whole training takes.
    let (dim, n) = (2000, 4096);
    let vectors = random_vectors(n, dim, 5);
    let sample: Vec<&[f32]> = vectors.chunks(dim).collect();
    let started = std::time::Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Codebook::train_supervised(dim, dim, &sample, 9, 2, Some(&mut || panic!("canceled")))
    }));
    assert!(result.is_err(), "the supervisor's panic goes on");
    let canceled = started.elapsed();
    let started = std::time::Instant::now();
    Codebook::train(dim, dim, &sample, 9, 2).unwrap();
    let whole = started.elapsed();
    assert!(
        canceled * 4 < whole,
        "a canceled training took {canceled:?}, a whole one {whole:?}"
    );
}

#[test]
fn codes_reconstruct_better_than_the_mean_and_name_the_nearest_centroid() {
    // The header holds the residual's length and the vector's.
    for (dim, subvectors) in [(40usize, 10usize), (33, 7), (5, 5), (16, 1)] {
        let (vectors, codebook) = trained(dim, subvectors, 1000, 2);
        let n = vectors.len() / dim;
        let mut mean = vec![0.0f32; dim];
        for v in vectors.chunks(dim) {
            mean.iter_mut().zip(v).for_each(|(m, x)| *m += x / n as f32);
        }
        let (mut error, mut spread) = (0.0f32, 0.0f32);
        for v in vectors.chunks(dim) {
            let code = code_of(&codebook, v);
            let mut back = Vec::new();
            codebook.decode(&code, &mut back);
            assert_eq!(back.len(), dim);
            error += squared(v, &back);
            spread += squared(v, &mean);
            let (residual, length) = hnsw_core::codes::pq_header(&code);
            assert!((residual - squared(v, &back).sqrt()).abs() <= 1e-4 * (1.0 + residual));
            let own = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((length - own).abs() <= 1e-4 * (1.0 + own));
            // No other code of one subvector changed reconstructs nearer.
            for j in 0..subvectors {
                for c in 0..CENTROIDS as u8 {
                    let mut other = code.clone();
                    let at = PQ_HEADER + j / 2;
                    other[at] = (other[at] & !(15 << (4 * (j & 1)))) | (c << (4 * (j & 1)));
                    let mut alt = Vec::new();
                    codebook.decode(&other, &mut alt);
                    assert!(
                        squared(v, &alt) >= squared(v, &back) - 1e-4,
                        "{dim}/{subvectors}"
                    );
                }
            }
        }
        // 16 centroids in d dimensions leave about 16^(-2/d) of the spread on uniform data.
        let bound = if dim / subvectors <= 5 { 0.6 } else { 0.9 };
        assert!(
            error < bound * spread,
            "{dim}/{subvectors}: {error} against {spread}"
        );
    }
}

#[test]
fn a_table_sums_to_the_distance_to_the_decoded_vector() {
    let (dim, subvectors) = (37usize, 9usize);
    let (vectors, codebook) = trained(dim, subvectors, 600, 2);
    let queries = random_vectors(10, dim, 77);
    let k = kernels();
    let mut table = QueryTable::default();
    for metric in [Metric::L2, Metric::L1, Metric::InnerProduct, Metric::Cosine] {
        for q in queries.chunks(dim) {
            codebook.table(metric, q, &mut table).unwrap();
            for v in vectors.chunks(dim).take(50) {
                let mut back = Vec::new();
                codebook.decode(&code_of(&codebook, v), &mut back);
                let dot = q.iter().zip(&back).map(|(a, b)| a * b).sum::<f32>();
                let length = |x: &[f32]| x.iter().map(|a| a * a).sum::<f32>().sqrt();
                let expected = match metric {
                    Metric::L2 => squared(q, &back),
                    Metric::L1 => q.iter().zip(&back).map(|(a, b)| (a - b).abs()).sum(),
                    // Cosine divides by the vector's own length, not the decoded one's.
                    Metric::Cosine => 1.0 - dot / (length(q) * length(v)),
                    _ => -dot,
                };
                let got = codebook.estimate(k, &table, &code_of(&codebook, v));
                assert!(
                    (got - expected).abs() <= 1e-4 * (1.0 + expected.abs()),
                    "{metric:?}: {got} against {expected}"
                );
            }
        }
    }
}

#[test]
fn table_kernels_match_the_scalar_reference() {
    let reference = Implementation::Scalar.kernels().unwrap();
    for imp in Implementation::ALL {
        let Some(k) = imp.kernels() else { continue };
        for bytes in [1usize, 2, 7, 8, 9, 16, 23, 98, 2000] {
            let table: Vec<f32> = random_vectors(1, 256 * bytes, bytes as u64);
            let code: Vec<u8> = (0..bytes)
                .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8)
                .collect();
            let want = (reference.pq_table_sum)(&table, &code);
            let got = (k.pq_table_sum)(&table, &code);
            let scale: f32 = table.iter().map(|x| x.abs()).sum::<f32>() / 256.0;
            assert!(
                (got - want).abs() <= 1e-5 * (1.0 + scale),
                "{} at {bytes}: {got} against {want}",
                imp.name()
            );
        }
    }
}

#[test]
fn an_odd_subvector_count_leaves_the_last_high_nibble_out() {
    let (dim, subvectors) = (21usize, 7usize);
    let (vectors, codebook) = trained(dim, subvectors, 400, 2);
    let mut table = QueryTable::default();
    codebook
        .table(Metric::L2, &vectors[..dim], &mut table)
        .unwrap();
    let k = kernels();
    for v in vectors.chunks(dim).take(20) {
        let code = code_of(&codebook, v);
        let mut changed = code.clone();
        *changed.last_mut().unwrap() ^= 0xf0;
        assert_eq!(
            codebook.estimate(k, &table, &changed),
            codebook.estimate(k, &table, &code)
        );
    }
}

#[test]
fn the_stored_form_reads_back_and_wrong_sizes_do_not() {
    let (dim, subvectors) = (24usize, 6usize);
    let (_, codebook) = trained(dim, subvectors, 300, 1);
    let bytes = codebook.to_bytes();
    assert_eq!(bytes.len(), Codebook::stored_bytes(dim));
    assert_eq!(
        Codebook::from_bytes(dim, subvectors, &bytes),
        Ok(Some(codebook))
    );
    assert_eq!(Codebook::from_bytes(dim, subvectors, &bytes[1..]), Ok(None));
    assert_eq!(Codebook::from_bytes(dim, 0, &bytes), Ok(None));
    assert_eq!(Codebook::from_bytes(dim, dim + 1, &bytes), Ok(None));
}

#[test]
fn fewer_vectors_than_centroids_still_train() {
    let (vectors, codebook) = trained(8, 4, 3, 2);
    for v in vectors.chunks(8) {
        let mut back = Vec::new();
        codebook.decode(&code_of(&codebook, v), &mut back);
        assert_eq!(back, v, "each vector is a centroid of its own");
    }
}

/// Rounding at 16,000 dimensions: columns of 0s and 1s train centroids of exactly 0 and 1
/// (residual 0), and a query of one 1 and small elements whose squares each vanish when
/// added to 1 one at a time (the SQL distance to the zero row is exactly 1) but not when
/// added in pairs (the table's bytes). The bound must stay at or below the distance with
/// every kernel; and elements near float32's largest overflow no bound into NaN.
#[test]
fn bounds_hold_under_rounding_and_overflow() {
    let dim = 16_000usize;
    let rows: Vec<Vec<f32>> = (0..300u32)
        .map(|r| {
            (0..dim as u32)
                .map(|i| {
                    ((i.wrapping_mul(2_654_435_761) ^ r.wrapping_mul(40_503)) >> 7 & 1) as f32
                        * (r > 0) as u8 as f32
                })
                .collect()
        })
        .collect();
    let sample: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
    let codebook = Codebook::train(dim, dim, &sample, 3, 2).unwrap();
    let t = 2.4e-4f32;
    let mut query = vec![t; dim];
    query[0] = 1.0;
    let mut table = QueryTable::default();
    codebook.table(Metric::L2, &query, &mut table).unwrap();
    let zero = code_of(&codebook, &rows[0]);
    for imp in Implementation::ALL {
        let Some(k) = imp.kernels() else { continue };
        let exact = (k.l2_squared)(&query, &rows[0]);
        let bound = codebook.lower_bound(&k, &table, &zero);
        assert!(
            bound <= exact,
            "{}: bound {bound} above {exact}",
            imp.name()
        );
    }
    let (dim, subvectors) = (8usize, 8usize);
    let huge: Vec<Vec<f32>> = (0..300)
        .map(|r| {
            (0..dim)
                .map(|i| if (r + i) % 2 == 0 { 3e38 } else { -3e38 })
                .collect()
        })
        .collect();
    let sample: Vec<&[f32]> = huge.iter().map(|r| r.as_slice()).collect();
    let codebook = Codebook::train(dim, subvectors, &sample, 4, 1).unwrap();
    codebook
        .table(Metric::InnerProduct, &huge[1], &mut table)
        .unwrap();
    for row in &huge {
        let bound = codebook.lower_bound(kernels(), &table, &code_of(&codebook, row));
        assert!(!bound.is_nan(), "a NaN bound");
        let dot: f32 = -huge[1].iter().zip(row).map(|(a, b)| a * b).sum::<f32>();
        assert!(dot.is_nan() || bound <= dot, "bound {bound} above {dot}");
    }
}
