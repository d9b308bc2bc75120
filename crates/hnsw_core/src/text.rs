//! The `vector` and `halfvec` text format: `[1,2.5,-3e-07]`.
//!
//! Input accepts whitespace around brackets and elements. Output writes each element in the
//! shortest form that reads back to the same float4, with the fixed/exponent switch of
//! Postgres' `float4out` (and so of pgvector): exponent form below 1e-4 and from 1e6 up.

use crate::element::f16;
use crate::error::{check_element, VectorError};
use crate::MAX_DIM;

/// The whitespace C's `isspace` accepts (what pgvector skips).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Parses a vector literal, checking every element and the length.
pub fn parse_vector(literal: &str) -> Result<Vec<f32>, VectorError> {
    parse_elements(literal, parse_element)
}

/// Parses a halfvec literal (the same text as a vector's): each element is read as a
/// float4, then rounded to a float16; a finite one beyond float16's range is out of range.
pub fn parse_halfvec(literal: &str) -> Result<Vec<f16>, VectorError> {
    parse_elements(literal, |token| {
        let x: f32 = token.parse().map_err(|_| None)?;
        let h = f16::from_f32(x);
        if h.is_infinite() && !names_infinity(token) {
            return Err(Some(VectorError::OutOfRange {
                token: token.to_string(),
            }));
        }
        check_element(h.to_f32()).map_err(Some)?;
        Ok(h)
    })
}

/// The bracketed, comma-separated list both literals share; `parse_one` reads an element
/// (`Err(None)`: not a number, reported as a syntax error with the whole literal).
fn parse_elements<T>(
    literal: &str,
    parse_one: impl Fn(&str) -> Result<T, Option<VectorError>>,
) -> Result<Vec<T>, VectorError> {
    let syntax = |detail| VectorError::InvalidSyntax {
        literal: literal.to_string(),
        detail,
    };
    let rest = literal.trim_start_matches(is_space);
    let mut rest = rest
        .strip_prefix('[')
        .ok_or_else(|| syntax(Some("Vector contents must start with \"[\".")))?
        .trim_start_matches(is_space);
    if rest.starts_with(']') {
        return Err(VectorError::NoDimensions);
    }
    let mut values = Vec::new();
    loop {
        if values.len() == MAX_DIM {
            return Err(VectorError::TooManyDimensions);
        }
        rest = rest.trim_start_matches(is_space);
        let end = rest
            .find(|c: char| c == ',' || c == ']' || is_space(c))
            .unwrap_or(rest.len());
        let token = &rest[..end];
        if token.is_empty() {
            return Err(syntax(None));
        }
        values.push(parse_one(token).map_err(|e| e.unwrap_or_else(|| syntax(None)))?);
        rest = rest[end..].trim_start_matches(is_space);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if let Some(after) = rest.strip_prefix(']') {
            rest = after;
            break;
        } else {
            return Err(syntax(if rest.is_empty() {
                Some("Vector contents must end with \"]\".")
            } else {
                None
            }));
        }
    }
    if !rest.trim_start_matches(is_space).is_empty() {
        return Err(syntax(Some("Junk after closing right brace.")));
    }
    Ok(values)
}

/// Parses one element. `Err(None)` means "not a number at all" (a syntax error that the
/// caller reports with the whole literal).
fn parse_element(token: &str) -> Result<f32, Option<VectorError>> {
    let x: f32 = token.parse().map_err(|_| None)?;
    if x.is_infinite() && !names_infinity(token) {
        return Err(Some(VectorError::OutOfRange {
            token: token.to_string(),
        }));
    }
    check_element(x).map_err(Some)?;
    Ok(x)
}

/// Whether the token spells infinity itself (`inf`, `-Infinity`), rather than overflowing.
fn names_infinity(token: &str) -> bool {
    let unsigned = token.trim_start_matches(['+', '-']);
    unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity")
}

/// Formats a vector as `[x,y,...]`.
pub fn format_vector(values: &[f32]) -> String {
    let mut out = String::with_capacity(2 + values.len() * 12);
    out.push('[');
    for (i, &x) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_float(&mut out, x);
    }
    out.push(']');
    out
}

/// Appends the shortest round-trip text of `x`, laid out like Postgres' `float4out`.
/// Nothing is allocated: the digits go through a buffer on the stack (this runs once per
/// element of every vector a query returns as text).
pub fn push_float(out: &mut String, x: f32) {
    use std::fmt::Write;
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // `{:e}` gives the shortest digits that round-trip, as "-1.2345e-7".
    let mut sci = StackText::default();
    write!(sci, "{x:e}").expect("an f32 in LowerExp fits the buffer");
    let (mantissa, exponent) = sci
        .as_str()
        .split_once('e')
        .expect("LowerExp always writes an 'e'");
    let exponent: i32 = exponent
        .parse()
        .expect("LowerExp writes an integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let mut digits = StackText::default();
    mantissa
        .chars()
        .filter(|c| *c != '.')
        .for_each(|c| digits.push(c as u8));
    let digits = digits.as_str();
    out.push_str(sign);
    if (-4..6).contains(&exponent) {
        push_fixed(out, digits, exponent);
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(if exponent < 0 { "e-" } else { "e+" });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        write!(out, "{magnitude}").expect("writing to a String cannot fail");
    }
}

/// ASCII text on the stack, long enough for any f32 in LowerExp ("-1.2345678e-45").
#[derive(Default)]
struct StackText {
    bytes: [u8; 24],
    len: usize,
}

impl StackText {
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("only ASCII is pushed")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() || !s.is_ascii() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes digits d1 d2 d3... scaled so that d1 sits at 10^exponent, without an exponent.
fn push_fixed(out: &mut String, digits: &str, exponent: i32) {
    if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(digits);
        return;
    }
    let int_len = exponent as usize + 1;
    if digits.len() <= int_len {
        out.push_str(digits);
        for _ in digits.len()..int_len {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..int_len]);
        out.push('.');
        out.push_str(&digits[int_len..]);
    }
}
