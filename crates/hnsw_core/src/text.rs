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

/// Appends the text of `x` exactly as Postgres' `float4out` (and so pgvector) writes it:
/// the shortest digits that lie strictly inside `x`'s rounding interval, the one nearest
/// `x` among them, laid out fixed from 1e-4 to below 1e6 and with an exponent otherwise.
/// Nothing is allocated (this runs once per element of every vector returned as text).
pub fn push_float(out: &mut String, x: f32) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    let x = x.abs();
    let mut ryu = ryu::Buffer::new();
    let mut digits = Digits::from_text(ryu.format_finite(x));
    // Ryu also takes a bound itself when the mantissa is even; Postgres never does, and
    // writes the nearest decimal with more digits instead (97508896 is "9.7508896e+07",
    // not "9.75089e+07", which lies halfway to the next float).
    if x != 0.0 && digits.is_bound_of(x) {
        for precision in digits.len()..=12 {
            let mut text = StackText::default();
            std::fmt::Write::write_fmt(&mut text, format_args!("{x:.precision$e}"))
                .expect("a float in LowerExp fits the buffer");
            let candidate = Digits::from_text(text.as_str());
            if text.as_str().parse::<f32>() == Ok(x) && !candidate.is_bound_of(x) {
                digits = candidate;
                break;
            }
        }
    }
    let exponent = digits.exponent;
    let digits = digits.as_str();
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
        std::fmt::Write::write_fmt(out, format_args!("{magnitude}"))
            .expect("writing to a String cannot fail");
    }
}

/// A non-negative decimal d1.d2d3... x 10^exponent, its significant digits on the stack.
struct Digits {
    digits: StackText,
    exponent: i32,
}

impl Digits {
    /// Reads "0.0001", "15000000000.0", "1e30" or "1.2345e-7" (Ryu's and LowerExp's forms).
    fn from_text(text: &str) -> Digits {
        let (mantissa, scale) = match text.split_once('e') {
            Some((m, e)) => (m, e.parse::<i32>().expect("an integer exponent")),
            None => (text, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut all = StackText::default();
        whole
            .bytes()
            .chain(fraction.bytes())
            .for_each(|b| all.push(b));
        let text = all.as_str();
        let significant = text.trim_start_matches('0');
        let leading_zeros = (text.len() - significant.len()) as i32;
        let mut digits = StackText::default();
        match significant.trim_end_matches('0') {
            "" => digits.push(b'0'),
            d => d.bytes().for_each(|b| digits.push(b)),
        }
        let exponent = if digits.as_str() == "0" {
            0
        } else {
            whole.len() as i32 - 1 - leading_zeros + scale
        };
        Digits { digits, exponent }
    }

    fn as_str(&self) -> &str {
        self.digits.as_str()
    }

    fn len(&self) -> usize {
        self.digits.len
    }

    /// Whether this decimal is exactly one end of the interval of reals that round to `x`
    /// (positive and finite): halfway to the next float up, or to the next one down.
    fn is_bound_of(&self, x: f32) -> bool {
        let bits = x.to_bits();
        let (field, fraction) = (bits >> 23, bits & 0x7f_ffff);
        let (m2, e2) = if field == 0 {
            (fraction as u64, -149)
        } else {
            ((fraction | 0x80_0000) as u64, field as i32 - 150)
        };
        // x = m2 * 2^e2; each bound as an odd integer times a power of two.
        let upper = (2 * m2 + 1, e2 - 1);
        let lower = if fraction == 0 && field > 1 {
            (4 * m2 - 1, e2 - 2) // the float below is nearer at a power of two
        } else {
            (2 * m2 - 1, e2 - 1)
        };
        let value: u64 = self.as_str().parse().expect("at most 17 digits");
        let scale = self.exponent - (self.len() as i32 - 1);
        [upper, lower]
            .iter()
            .any(|&(odd, twos)| decimal_is_dyadic(value, scale, odd, twos))
    }
}

/// Whether value * 10^scale equals odd * 2^twos exactly (odd is odd and below 2^26).
fn decimal_is_dyadic(value: u64, scale: i32, odd: u64, twos: i32) -> bool {
    // value * 10^scale = (value * 5^scale) * 2^scale: find its odd part and power of two.
    let fives = 5u64.checked_pow(scale.unsigned_abs());
    let Some(fives) = fives else {
        return false; // 5^|scale| beyond u64 leaves an odd part far above 2^26
    };
    let whole = if scale >= 0 {
        match value.checked_mul(fives) {
            Some(w) => w,
            None => return false,
        }
    } else if value % fives == 0 {
        value / fives
    } else {
        return false; // a factor of 5 in the denominator: not a dyadic rational
    };
    let shift = whole.trailing_zeros();
    whole >> shift == odd && scale + shift as i32 == twos
}

/// ASCII text on the stack: a float's digits in any of the forms above (at most 16
/// characters from Ryu, 18 from LowerExp with 12 digits).
#[derive(Default)]
struct StackText {
    bytes: [u8; 32],
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
