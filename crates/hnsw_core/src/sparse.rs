//! `sparsevec`, pgvector's sparse vector: `dim` dimensions, of which `nnz` (at most
//! 16,000) are non-zero, kept as ascending 0-based indices and their float4 values.
//!
//! Text: `{1:1.5,3:2}/5`: 1-based `index:value` pairs in any order (zeros dropped), then
//! the dimensions. Binary: int32 dim, int32 nnz, int32 unused (0), nnz int32 0-based
//! indices, nnz float4 values, all big-endian (pgvector's format).

use crate::distance::plus_sum;
use crate::error::{check_element, VectorError};
use std::cmp::Ordering;
use std::fmt;
use std::num::IntErrorKind;

/// Most dimensions a sparsevec may have (as pgvector).
pub const MAX_SPARSE_DIM: usize = 1_000_000_000;
/// Most non-zero elements a sparsevec may have (as pgvector).
pub const MAX_NNZ: usize = 16_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Sparse {
    pub dim: usize,
    /// 0-based, strictly ascending, each below `dim`.
    pub indices: Vec<u32>,
    /// Finite and non-zero, one per index.
    pub values: Vec<f32>,
}

/// The errors only sparsevec has (the rest are `VectorError`'s, named for `sparsevec`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SparseError {
    TooManyDimensions,
    TypmodTooLarge,
    TooManyNonZeros,
    MoreElementsThanDimensions,
    NegativeNonZeros,
    /// An index below 1 (0 in the binary format) or past the dimensions.
    IndexOutOfBounds,
    NotAscending,
    Duplicate,
    ZeroInBinary,
}

impl SparseError {
    pub fn sqlstate(&self) -> &'static str {
        use SparseError::*;
        match self {
            TooManyDimensions | TooManyNonZeros | MoreElementsThanDimensions => "54000",
            TypmodTooLarge => "22023",
            _ => "22000",
        }
    }
}

impl fmt::Display for SparseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SparseError::*;
        match self {
            TooManyDimensions => {
                write!(
                    f,
                    "sparsevec cannot have more than {MAX_SPARSE_DIM} dimensions"
                )
            }
            TypmodTooLarge => write!(
                f,
                "dimensions for type sparsevec cannot exceed {MAX_SPARSE_DIM}"
            ),
            TooManyNonZeros => write!(
                f,
                "sparsevec cannot have more than {MAX_NNZ} non-zero elements"
            ),
            MoreElementsThanDimensions => {
                write!(f, "sparsevec cannot have more elements than dimensions")
            }
            NegativeNonZeros => write!(f, "sparsevec cannot have negative number of elements"),
            IndexOutOfBounds => write!(f, "sparsevec index out of bounds"),
            NotAscending => write!(f, "sparsevec indices must be in ascending order"),
            Duplicate => write!(f, "sparsevec indices must not contain duplicates"),
            ZeroInBinary => write!(
                f,
                "binary representation of sparsevec cannot contain zero values"
            ),
        }
    }
}

fn sparse(e: SparseError) -> VectorError {
    VectorError::Sparse(e)
}

/// Checks the dimensions of a sparsevec (1..=MAX_SPARSE_DIM).
pub fn check_dim(dim: i64) -> Result<usize, VectorError> {
    if dim < 1 {
        return Err(VectorError::NoDimensions);
    }
    if dim as u64 > MAX_SPARSE_DIM as u64 {
        return Err(sparse(SparseError::TooManyDimensions));
    }
    Ok(dim as usize)
}

/// `sparsevec(n)`.
pub fn typmod_from_modifiers(mods: &[i32]) -> Result<i32, VectorError> {
    match mods {
        [n] if *n < 1 => Err(VectorError::TypmodTooSmall),
        [n] if *n as usize > MAX_SPARSE_DIM => Err(sparse(SparseError::TypmodTooLarge)),
        [n] => Ok(*n),
        _ => Err(VectorError::InvalidTypmod),
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Parses `{i:v,...}/dim`.
pub fn parse_sparsevec(literal: &str) -> Result<Sparse, VectorError> {
    parse_sparsevec_for(literal, -1)
}

/// Parses `{i:v,...}/dim` for a column of `typmod` (-1: none), checked in pgvector's order:
/// each value as it is read, then the dimensions, the typmod, and the indices.
pub fn parse_sparsevec_for(literal: &str, typmod: i32) -> Result<Sparse, VectorError> {
    let syntax = |detail| VectorError::InvalidSyntax {
        literal: literal.to_string(),
        detail,
    };
    if literal.matches(',').count() + 1 > MAX_NNZ {
        return Err(sparse(SparseError::TooManyNonZeros));
    }
    let mut rest = literal
        .trim_start_matches(is_space)
        .strip_prefix('{')
        .ok_or_else(|| syntax(Some("Vector contents must start with \"{\".")))?
        .trim_start_matches(is_space);
    let mut pairs: Vec<(i64, f32)> = Vec::new();
    if let Some(after) = rest.strip_prefix('}') {
        rest = after;
    } else {
        loop {
            rest = rest.trim_start_matches(is_space);
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '+'))
                .unwrap_or(rest.len());
            let token = &rest[..end];
            if token.is_empty() {
                return Err(syntax(None));
            }
            // Checked against the dimensions once they are read, as pgvector does (so
            // only for a non-zero value); an index past int64 is as far out of bounds.
            let index: i64 = match token.parse::<i64>() {
                Ok(i) => i,
                Err(e) if *e.kind() == IntErrorKind::PosOverflow => i64::MAX,
                Err(e) if *e.kind() == IntErrorKind::NegOverflow => i64::MIN,
                Err(_) => return Err(syntax(None)),
            };
            rest = rest[end..].trim_start_matches(is_space);
            rest = rest.strip_prefix(':').ok_or_else(|| syntax(None))?;
            rest = rest.trim_start_matches(is_space);
            let end = rest
                .find(|c: char| c == ',' || c == '}' || is_space(c))
                .unwrap_or(rest.len());
            let token = &rest[..end];
            let value: f32 = token.parse().map_err(|_| syntax(None))?;
            // Too large for float4, or so small it rounds to zero: out of range, as
            // pgvector's sparsevec input says (its vector input takes such a zero).
            if (value.is_infinite() && !names_infinity(token))
                || (value == 0.0 && !names_zero(token))
            {
                return Err(VectorError::OutOfRange {
                    token: token.to_string(),
                });
            }
            check_element(value)?;
            if value != 0.0 {
                pairs.push((index, value));
            }
            rest = rest[end..].trim_start_matches(is_space);
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            } else {
                return Err(syntax(None));
            }
        }
    }
    rest = rest
        .trim_start_matches(is_space)
        .strip_prefix('/')
        .ok_or_else(|| syntax(Some("Unexpected end of input.")))?
        .trim_start_matches(is_space);
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '+'))
        .unwrap_or(rest.len());
    // A dimension count beyond int64 is as far out of range as one beyond int32.
    let dim: i64 = match rest[..end].parse::<i64>() {
        Ok(dim) => dim,
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => i64::MAX,
        Err(e) if *e.kind() == IntErrorKind::NegOverflow => i64::MIN,
        Err(_) => return Err(syntax(None)),
    };
    if !rest[end..].trim_start_matches(is_space).is_empty() {
        return Err(syntax(Some("Junk after closing.")));
    }
    let dim = check_dim(dim)?;
    crate::error::check_typmod(typmod, dim)?;
    pairs.sort_by_key(|p| p.0);
    let mut out = Sparse {
        dim,
        indices: Vec::with_capacity(pairs.len()),
        values: Vec::with_capacity(pairs.len()),
    };
    for (i, &(index, value)) in pairs.iter().enumerate() {
        if index < 1 || index as u64 > dim as u64 {
            return Err(sparse(SparseError::IndexOutOfBounds));
        }
        if i > 0 && pairs[i - 1].0 == index {
            return Err(sparse(SparseError::Duplicate));
        }
        out.indices.push((index - 1) as u32);
        out.values.push(value);
    }
    Ok(out)
}

/// Whether a float literal that parsed writes zero itself (every digit of its mantissa 0),
/// rather than a value too small for float4.
fn names_zero(token: &str) -> bool {
    let mantissa = token.split(['e', 'E']).next().unwrap_or(token);
    mantissa.chars().all(|c| matches!(c, '0' | '.' | '+' | '-'))
}

fn names_infinity(token: &str) -> bool {
    let unsigned = token.trim_start_matches(['+', '-']);
    unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity")
}

/// `{i:v,...}/dim`, 1-based, each value as float4 prints.
pub fn format_sparsevec(v: &Sparse) -> String {
    let mut out = String::from("{");
    for (k, (&i, &x)) in v.indices.iter().zip(&v.values).enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&(i as u64 + 1).to_string());
        out.push(':');
        crate::text::push_float(&mut out, x);
    }
    out.push_str("}/");
    out.push_str(&v.dim.to_string());
    out
}

pub fn encode(v: &Sparse) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 8 * v.indices.len());
    out.extend_from_slice(&(v.dim as i32).to_be_bytes());
    out.extend_from_slice(&(v.indices.len() as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    for i in &v.indices {
        out.extend_from_slice(&(*i as i32).to_be_bytes());
    }
    for x in &v.values {
        out.extend_from_slice(&x.to_be_bytes());
    }
    out
}

/// Decodes the binary format from the start of `bytes`; returns the value and the bytes
/// it took. Checked as pgvector does, in its order.
pub fn decode(bytes: &[u8]) -> Result<(Sparse, usize), VectorError> {
    decode_for(bytes, -1)
}

/// `decode` for a column of `typmod` (-1: none), checked after the counts and before
/// the rest, as pgvector does.
pub fn decode_for(bytes: &[u8], typmod: i32) -> Result<(Sparse, usize), VectorError> {
    let int = |at: usize| -> Result<i32, VectorError> {
        let b = bytes.get(at..at + 4).ok_or(VectorError::Truncated)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let dim = check_dim(int(0)? as i64)?;
    let nnz = int(4)?;
    if nnz < 0 {
        return Err(sparse(SparseError::NegativeNonZeros));
    }
    let nnz = nnz as usize;
    if nnz > MAX_NNZ {
        return Err(sparse(SparseError::TooManyNonZeros));
    }
    if nnz > dim {
        return Err(sparse(SparseError::MoreElementsThanDimensions));
    }
    crate::error::check_typmod(typmod, dim)?;
    let unused = int(8)?;
    if unused != 0 {
        return Err(VectorError::UnusedNotZero {
            unused: unused.clamp(i16::MIN as i32, i16::MAX as i32) as i16,
        });
    }
    let mut v = Sparse {
        dim,
        indices: Vec::with_capacity(nnz),
        values: Vec::with_capacity(nnz),
    };
    for k in 0..nnz {
        let index = int(12 + 4 * k)?;
        if index < 0 || index as usize >= dim {
            return Err(sparse(SparseError::IndexOutOfBounds));
        }
        if let Some(&last) = v.indices.last() {
            match (index as u32).cmp(&last) {
                Ordering::Less => return Err(sparse(SparseError::NotAscending)),
                Ordering::Equal => return Err(sparse(SparseError::Duplicate)),
                Ordering::Greater => {}
            }
        }
        v.indices.push(index as u32);
    }
    for k in 0..nnz {
        let x = f32::from_bits(int(12 + 4 * nnz + 4 * k)? as u32);
        check_element(x)?;
        if x == 0.0 {
            return Err(sparse(SparseError::ZeroInBinary));
        }
        v.values.push(x);
    }
    Ok((v, 12 + 8 * nnz))
}

impl Sparse {
    /// A dense vector's non-zero elements.
    pub fn from_dense(dense: &[f32]) -> Sparse {
        let mut v = Sparse {
            dim: dense.len(),
            indices: Vec::new(),
            values: Vec::new(),
        };
        for (i, &x) in dense.iter().enumerate() {
            if x != 0.0 {
                v.indices.push(i as u32);
                v.values.push(x);
            }
        }
        v
    }

    /// The dense form (the caller checks `dim` fits the dense type).
    pub fn to_dense(&self) -> Vec<f32> {
        let mut dense = vec![0.0; self.dim];
        for (&i, &x) in self.indices.iter().zip(&self.values) {
            dense[i as usize] = x;
        }
        dense
    }

    /// The two vectors' elements side by side (`merged`).
    fn merged<'a>(&'a self, other: &'a Sparse) -> impl Iterator<Item = (u32, f32, f32)> + 'a {
        merged(
            move |i| self.indices.get(i).copied(),
            &self.values,
            move |j| other.indices.get(j).copied(),
            &other.values,
        )
    }

    /// Σ (a - b)², accumulated in float4 as pgvector does.
    pub fn l2_squared(&self, other: &Sparse) -> f32 {
        sum_l2_squared(self.merged(other))
    }

    pub fn inner_product(&self, other: &Sparse) -> f32 {
        sum_inner_product(self.merged(other))
    }

    pub fn l1(&self, other: &Sparse) -> f32 {
        sum_l1(self.merged(other))
    }

    /// The index's `&[f32]` form of the vector (see `slots`).
    pub fn to_slots(&self) -> Vec<f32> {
        let indices = self.indices.iter().map(|&i| f32::from_bits(i));
        indices.chain(self.values.iter().copied()).collect()
    }

    /// 1 - cosine similarity (NaN when either is zero), as `vector`'s.
    pub fn cosine_distance(&self, other: &Sparse) -> f64 {
        let dot = self.inner_product(other) as f64;
        let na = plus_sum(self.values.iter().map(|x| x * x));
        let nb = plus_sum(other.values.iter().map(|x| x * x));
        let similarity = dot / (na as f64 * nb as f64).sqrt();
        1.0 - similarity.clamp(-1.0, 1.0)
    }

    pub fn norm(&self) -> f64 {
        crate::ops::norm(&self.values)
    }

    /// The unit vector in this direction; zero stays zero.
    pub fn l2_normalize(&self) -> Result<Sparse, VectorError> {
        let values = crate::ops::l2_normalize(&self.values)?;
        // Elements that round to zero leave the non-zero list.
        let mut out = Sparse {
            dim: self.dim,
            indices: Vec::new(),
            values: Vec::new(),
        };
        for (&i, &x) in self.indices.iter().zip(&values) {
            if x != 0.0 {
                out.indices.push(i);
                out.values.push(x);
            }
        }
        Ok(out)
    }

    /// The btree order: element by element as the dense vectors would compare, then the
    /// fewer dimensions first.
    pub fn compare(&self, other: &Sparse) -> Ordering {
        let common = self.dim.min(other.dim) as u32;
        for (index, a, b) in self.merged(other) {
            if index >= common {
                break;
            }
            match a.partial_cmp(&b) {
                Some(Ordering::Equal) | None => {}
                Some(order) => return order,
            }
        }
        self.dim.cmp(&other.dim)
    }
}

/// Checks that two operands have the same dimensions.
pub fn check_same_dimensions(a: &Sparse, b: &Sparse) -> Result<(), VectorError> {
    if a.dim == b.dim {
        Ok(())
    } else {
        Err(VectorError::DimensionMismatch {
            left: a.dim,
            right: b.dim,
        })
    }
}

/// Two sparse vectors' elements side by side, by index, over the union of their non-zero
/// indices: (index, a_i, b_i), one of them possibly 0. `a(i)` is the i-th index of a
/// (`None` past the end), `a_values` its values.
fn merged<'a>(
    a: impl Fn(usize) -> Option<u32> + 'a,
    a_values: &'a [f32],
    b: impl Fn(usize) -> Option<u32> + 'a,
    b_values: &'a [f32],
) -> impl Iterator<Item = (u32, f32, f32)> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || match (a(i), b(j)) {
        (None, None) => None,
        (Some(x), Some(y)) if x == y => {
            i += 1;
            j += 1;
            Some((x, a_values[i - 1], b_values[j - 1]))
        }
        (Some(x), y) if y.is_none_or(|y| x < y) => {
            i += 1;
            Some((x, a_values[i - 1], 0.0))
        }
        (_, Some(y)) => {
            j += 1;
            Some((y, 0.0, b_values[j - 1]))
        }
        (Some(_), None) => unreachable!("matched above"),
    })
}

/// Σ (a - b)², accumulated in float4 as pgvector does (so are the other two sums).
fn sum_l2_squared(pairs: impl Iterator<Item = (u32, f32, f32)>) -> f32 {
    plus_sum(pairs.map(|(_, a, b)| (a - b) * (a - b)))
}

fn sum_inner_product(pairs: impl Iterator<Item = (u32, f32, f32)>) -> f32 {
    plus_sum(pairs.map(|(_, a, b)| a * b))
}

fn sum_l1(pairs: impl Iterator<Item = (u32, f32, f32)>) -> f32 {
    plus_sum(pairs.map(|(_, a, b)| (a - b).abs()))
}

/// The `&[f32]` form an index keeps a sparse vector in (`Sparse::to_slots`): its nnz
/// indices (as bit patterns), then its nnz values. Distances between two such forms are
/// the `Sparse` ones.
pub mod slots {
    use super::{merged, sum_inner_product, sum_l1, sum_l2_squared};

    /// The (indices, values) halves of a slot form.
    fn halves(v: &[f32]) -> (&[f32], &[f32]) {
        v.split_at(v.len() / 2)
    }

    fn pairs<'a>(a: &'a [f32], b: &'a [f32]) -> impl Iterator<Item = (u32, f32, f32)> + 'a {
        let ((ai, av), (bi, bv)) = (halves(a), halves(b));
        merged(
            move |i| ai.get(i).map(|x| x.to_bits()),
            av,
            move |j| bi.get(j).map(|x| x.to_bits()),
            bv,
        )
    }

    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        sum_l2_squared(pairs(a, b))
    }

    pub fn inner_product(a: &[f32], b: &[f32]) -> f32 {
        sum_inner_product(pairs(a, b))
    }

    pub fn l1(a: &[f32], b: &[f32]) -> f32 {
        sum_l1(pairs(a, b))
    }

    /// The slot form scaled to unit length (`None` for the zero vector); elements that
    /// round to zero stay, which no distance minds.
    pub fn normalized(v: &[f32]) -> Option<Vec<f32>> {
        let (indices, values) = halves(v);
        let unit = crate::distance::normalized(values)?;
        Some(indices.iter().copied().chain(unit).collect())
    }

    /// How many non-zero elements a slot form holds.
    pub fn nnz(v: &[f32]) -> usize {
        v.len() / 2
    }
}
