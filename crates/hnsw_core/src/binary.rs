//! The `vector` and `halfvec` binary formats (send/recv, binary COPY), as pgvector's:
//! int16 dim, int16 unused (must be 0), then dim float4 (or float16), all big-endian.

use crate::element::{check_halves, f16};
use crate::error::{check_dimensions, check_vector, VectorError};

/// Encodes `values` (at most 16,000 of them, so the count fits an int16).
pub fn encode(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * values.len());
    out.extend_from_slice(&(values.len() as i16).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for x in values {
        out.extend_from_slice(&x.to_be_bytes());
    }
    out
}

/// Decodes a vector from the start of `bytes`, checking it as text input does. Returns the
/// values and how many bytes they took (the caller decides what trailing bytes mean).
pub fn decode(bytes: &[u8]) -> Result<(Vec<f32>, usize), VectorError> {
    let (body, len) = body(bytes, 4)?;
    let values: Vec<f32> = body
        .chunks_exact(4)
        .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    check_vector(&values)?;
    Ok((values, len))
}

pub fn encode_halves(values: &[f16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 2 * values.len());
    out.extend_from_slice(&(values.len() as i16).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for x in values {
        out.extend_from_slice(&x.to_be_bytes());
    }
    out
}

/// `decode` for a halfvec.
pub fn decode_halves(bytes: &[u8]) -> Result<(Vec<f16>, usize), VectorError> {
    let (body, len) = body(bytes, 2)?;
    let values: Vec<f16> = body
        .chunks_exact(2)
        .map(|c| f16::from_be_bytes([c[0], c[1]]))
        .collect();
    check_halves(&values)?;
    Ok((values, len))
}

/// The elements' bytes after a checked header (`size` bytes each), and the total length.
fn body(bytes: &[u8], size: usize) -> Result<(&[u8], usize), VectorError> {
    let header = bytes.get(..4).ok_or(VectorError::Truncated)?;
    let dim = i16::from_be_bytes([header[0], header[1]]);
    let unused = i16::from_be_bytes([header[2], header[3]]);
    // In pgvector's order: the count first, then the unused field.
    check_dimensions(dim.max(0) as usize)?;
    if unused != 0 {
        return Err(VectorError::UnusedNotZero { unused });
    }
    let len = 4 + size * dim as usize;
    let body = bytes.get(4..len).ok_or(VectorError::Truncated)?;
    Ok((body, len))
}
