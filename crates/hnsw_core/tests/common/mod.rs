//! Helpers shared by the integration tests.

use hnsw_core::graph::splitmix64;

/// `n` pseudo-random vectors of `dim` floats in [-0.5, 0.5), the same for the same seed.
pub fn random_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    (0..n * dim)
        .map(|i| (splitmix64(seed ^ i as u64) >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
        .collect()
}

/// Reads a little-endian .npy matrix of float32, int32 or uint8 as f32: (rows, cols, values).
#[allow(dead_code)] // not every suite reads data sets
pub fn read_npy(path: &str) -> (usize, usize, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let shape: Vec<usize> = shape[..shape.find(')').unwrap()]
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let data = &bytes[10 + header_len..];
    let values: Vec<f32> = if header.contains("'<f4'") {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else if header.contains("'<i4'") {
        data.chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect()
    } else if header.contains("'<f2'") {
        data.chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect()
    } else if header.contains("'|u1'") {
        data.iter().map(|&b| b as f32).collect()
    } else {
        panic!("{path}: unsupported dtype in {header}")
    };
    assert_eq!(values.len(), shape[0] * shape[1]);
    (shape[0], shape[1], values)
}

/// An IEEE half-precision value as f32 (exact: every f16 is an f32).
#[allow(dead_code)]
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = ((h >> 10) & 0x1f) as i32;
    let fraction = (h & 0x3ff) as f32;
    match exponent {
        0 => sign * fraction * 2f32.powi(-24),
        31 if fraction == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + fraction / 1024.0) * 2f32.powi(e - 15),
    }
}

/// A graph search's answer with the ids its nodes were written as (in the search's order).
#[allow(dead_code)] // not every suite writes indexes
pub fn in_written_ids(
    found: Vec<hnsw_core::graph::Neighbour>,
    written: &[u32],
) -> Vec<hnsw_core::graph::Neighbour> {
    let mut found: Vec<hnsw_core::graph::Neighbour> = found
        .into_iter()
        .map(|n| hnsw_core::graph::Neighbour {
            id: written[n.id as usize],
            ..n
        })
        .collect();
    found.sort();
    found
}
