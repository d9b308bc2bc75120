//! Every user-facing error of the `vector` type, with the SQLSTATE pgvector uses for it, so
//! clients that match on codes or on message shapes keep working. The Postgres glue turns
//! these into `ereport(ERROR)`; the core only describes them.

use crate::MAX_DIM;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VectorError {
    /// A text literal that is not `[x, y, ...]`. `detail` says what is wrong, when known.
    InvalidSyntax {
        literal: String,
        detail: Option<&'static str>,
    },
    /// A number too large for a float4, such as `1e39`.
    OutOfRange {
        token: String,
    },
    NotANumber,
    Infinite,
    NoDimensions,
    TooManyDimensions,
    /// Two operands of different lengths.
    DimensionMismatch {
        left: usize,
        right: usize,
    },
    /// A value whose length differs from the column's `vector(n)`.
    /// (`expected` is what the caller passed: a direct call may pass any integer.)
    TypmodMismatch {
        expected: i64,
        actual: usize,
    },
    /// The binary format's reserved int16 was not zero.
    UnusedNotZero {
        unused: i16,
    },
    /// Element-wise arithmetic left the float4 range.
    Overflow,
    Underflow,
    ArrayNotOneDimensional,
    ArrayHasNulls,
    /// An `avg(vector)` state that no transition made (typed in by hand).
    InvalidAggregateState,
    TypmodTooSmall,
    TypmodTooLarge,
    /// `vector(1, 2)` and other malformed modifiers.
    InvalidTypmod,
    /// Binary input shorter than its header says.
    Truncated,
    /// What only `sparsevec` checks (its limits and indices).
    Sparse(crate::sparse::SparseError),
}

impl VectorError {
    /// The five-character SQLSTATE, as pgvector reports it.
    pub fn sqlstate(&self) -> &'static str {
        use VectorError::*;
        match self {
            InvalidSyntax { .. } => "22P02", // invalid_text_representation
            OutOfRange { .. } | Overflow | Underflow => "22003", // numeric_value_out_of_range
            NotANumber | Infinite | NoDimensions => "22000", // data_exception
            DimensionMismatch { .. } | TypmodMismatch { .. } => "22000",
            ArrayNotOneDimensional | UnusedNotZero { .. } => "22000",
            ArrayHasNulls => "22004",     // null_value_not_allowed
            TooManyDimensions => "54000", // program_limit_exceeded
            TypmodTooSmall | TypmodTooLarge | InvalidTypmod | InvalidAggregateState => "22023", // invalid_parameter_value
            Truncated => "08P01", // protocol_violation, as Postgres' own pq_getmsg* functions
            Sparse(e) => e.sqlstate(),
        }
    }

    /// Extra detail for the DETAIL line, if any.
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            VectorError::InvalidSyntax { detail, .. } => *detail,
            _ => None,
        }
    }
}

impl VectorError {
    /// The message, for a value of SQL type `ty` (`vector`, `halfvec`): pgvector's texts
    /// differ between its types by the type's name alone.
    pub fn message(&self, ty: &str) -> String {
        use VectorError::*;
        match self {
            InvalidSyntax { literal, .. } => {
                format!("invalid input syntax for type {ty}: \"{literal}\"")
            }
            OutOfRange { token } => format!("\"{token}\" is out of range for type {ty}"),
            NotANumber => format!("NaN not allowed in {ty}"),
            Infinite => format!("infinite value not allowed in {ty}"),
            NoDimensions => format!("{ty} must have at least 1 dimension"),
            TooManyDimensions => format!("{ty} cannot have more than {MAX_DIM} dimensions"),
            DimensionMismatch { left, right } => {
                format!("different {ty} dimensions {left} and {right}")
            }
            TypmodMismatch { expected, actual } => {
                format!("expected {expected} dimensions, not {actual}")
            }
            UnusedNotZero { unused } => format!("expected unused to be 0, not {unused}"),
            Overflow => "value out of range: overflow".into(),
            Underflow => "value out of range: underflow".into(),
            ArrayNotOneDimensional => "array must be 1-D".into(),
            ArrayHasNulls => "array must not contain nulls".into(),
            InvalidAggregateState => format!(
                "invalid state array for avg({ty}): expected [count, sums...] with a whole, non-negative count"
            ),
            TypmodTooSmall => format!("dimensions for type {ty} must be at least 1"),
            TypmodTooLarge => format!("dimensions for type {ty} cannot exceed {MAX_DIM}"),
            InvalidTypmod => "invalid type modifier".into(),
            Truncated => "insufficient data left in message".into(),
            Sparse(e) => e.to_string(),
        }
    }
}

/// The message for a `vector`.
impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message("vector"))
    }
}

impl std::error::Error for VectorError {}

/// Checks that a vector's length is within 1..=MAX_DIM.
pub fn check_dimensions(dim: usize) -> Result<(), VectorError> {
    match dim {
        0 => Err(VectorError::NoDimensions),
        d if d > MAX_DIM => Err(VectorError::TooManyDimensions),
        _ => Ok(()),
    }
}

/// Checks that one element is finite.
pub fn check_element(x: f32) -> Result<(), VectorError> {
    if x.is_nan() {
        Err(VectorError::NotANumber)
    } else if x.is_infinite() {
        Err(VectorError::Infinite)
    } else {
        Ok(())
    }
}

/// Checks a whole vector: length, then every element.
pub fn check_vector(xs: &[f32]) -> Result<(), VectorError> {
    check_dimensions(xs.len())?;
    xs.iter().try_for_each(|&x| check_element(x))
}

/// Checks that two operands have the same length.
pub fn check_same_dimensions(a: &[f32], b: &[f32]) -> Result<(), VectorError> {
    if a.len() == b.len() {
        Ok(())
    } else {
        Err(VectorError::DimensionMismatch {
            left: a.len(),
            right: b.len(),
        })
    }
}

/// Checks a value against a column's typmod (-1 means unconstrained).
pub fn check_typmod(typmod: i32, dim: usize) -> Result<(), VectorError> {
    // -1 is "no typmod"; any other value is a dimension count to match, as in pgvector
    // (a direct call of a cast function may pass a negative one).
    if typmod != -1 && i64::from(typmod) != dim as i64 {
        Err(VectorError::TypmodMismatch {
            expected: typmod.into(),
            actual: dim,
        })
    } else {
        Ok(())
    }
}

/// Turns the integers of `vector(n)` into a typmod.
pub fn typmod_from_modifiers(mods: &[i32]) -> Result<i32, VectorError> {
    match mods {
        [n] if *n < 1 => Err(VectorError::TypmodTooSmall),
        [n] if *n as usize > MAX_DIM => Err(VectorError::TypmodTooLarge),
        [n] => Ok(*n),
        _ => Err(VectorError::InvalidTypmod),
    }
}
