//! Filter values: the columns after the vector in a multicolumn index (`CREATE INDEX ON
//! items USING hnsw (embedding vector_l2_ops, category, tenant_id)`). Every node record
//! has a fixed-width *key* holding its row's values of those columns, kept in the group's
//! key pages (format 9), so a scan tests a filter without reading the table.
//!
//! A key is a header of flag bits, then each column's value in its width:
//! bit 0 of byte 0 says the key is written (a slot never written is all zero and matches
//! no filter), bit `1 + c` says column `c` is NULL (its value bytes are then zero). The
//! extension writes values so that equal SQL values have equal bytes (every integer type
//! as an i64, so `bigint_column = 42` compares the same bytes as `int_column = 42`); this
//! module compares bytes only, and for ranges (`<`, `<=`, `>=`, `>`) orders them as the
//! extension says the column's type does (`ValueOrder`). An integer array column keeps a
//! lossy 128-bit signature of its elements (`signature`), which answers `&&` and `@>`
//! with false positives only: the executor rechecks every row.

/// The most columns a key holds (the vector's column is not one of them).
pub const MAX_KEY_COLUMNS: usize = 16;
/// The widest value a column holds (a uuid).
pub const MAX_VALUE_BYTES: usize = 16;
/// The widest key: the header and every column at the widest value.
pub const MAX_KEY_BYTES: usize =
    (1 + MAX_KEY_COLUMNS).div_ceil(8) + MAX_KEY_COLUMNS * MAX_VALUE_BYTES;

const WRITTEN: u8 = 1;

/// The widths of a key's columns, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFormat {
    widths: Vec<usize>,
}

impl KeyFormat {
    /// A key of columns `widths` bytes wide (1 to `MAX_KEY_COLUMNS` of them, each 1 to
    /// `MAX_VALUE_BYTES`).
    pub fn new(widths: Vec<usize>) -> KeyFormat {
        assert!((1..=MAX_KEY_COLUMNS).contains(&widths.len()));
        assert!(widths.iter().all(|w| (1..=MAX_VALUE_BYTES).contains(w)));
        KeyFormat { widths }
    }

    pub fn columns(&self) -> usize {
        self.widths.len()
    }

    pub fn width(&self, column: usize) -> usize {
        self.widths[column]
    }

    fn header_bytes(&self) -> usize {
        (1 + self.widths.len()).div_ceil(8)
    }

    /// Bytes of one key.
    pub fn key_bytes(&self) -> usize {
        self.header_bytes() + self.widths.iter().sum::<usize>()
    }

    fn offset(&self, column: usize) -> usize {
        self.header_bytes() + self.widths[..column].iter().sum::<usize>()
    }

    /// The key of a row whose columns hold `values` (`None`: NULL), each of its column's
    /// width.
    pub fn encode(&self, values: &[Option<&[u8]>]) -> Vec<u8> {
        assert_eq!(values.len(), self.widths.len());
        let mut key = vec![0u8; self.key_bytes()];
        key[0] = WRITTEN;
        for (column, value) in values.iter().enumerate() {
            match value {
                None => key[(1 + column) / 8] |= 1 << ((1 + column) % 8),
                Some(bytes) => {
                    assert_eq!(bytes.len(), self.widths[column]);
                    let at = self.offset(column);
                    key[at..at + bytes.len()].copy_from_slice(bytes);
                }
            }
        }
        key
    }

    /// Whether `key` was written (a never-written slot's key is all zero).
    #[inline]
    pub fn is_written(key: &[u8]) -> bool {
        key.first().is_some_and(|b| b & WRITTEN != 0)
    }
}

/// Values one column must hold one of: read as integers (`value_at`), sorted, distinct,
/// from the column `width` bytes wide at byte `at` of the key; none at all matches no row.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OneOf {
    at: usize,
    width: usize,
    values: Vec<u128>,
}

/// A column's range, its bounds inclusive, in `ValueOrder::rank` form.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Range {
    at: usize,
    width: usize,
    order: ValueOrder,
    low: u128,
    high: u128,
}

/// How the stored values of a column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueOrder {
    /// As little-endian two's-complement integers (the integer types, dates, timestamps).
    Signed,
    /// Byte by byte, as `memcmp` (a uuid).
    Bytes,
}

impl ValueOrder {
    /// The `width` bytes at `at` of `bytes` as an unsigned integer of the same order.
    #[inline]
    fn rank(self, bytes: &[u8], at: usize, width: usize) -> u128 {
        match self {
            ValueOrder::Signed => {
                let shift = 128 - 8 * width as u32;
                let value = ((value_at(bytes, at, width) << shift) as i128) >> shift;
                (value ^ i128::MIN) as u128
            }
            ValueOrder::Bytes => {
                let mut whole = [0u8; 16];
                whole[..width].copy_from_slice(&bytes[at..at + width]);
                u128::from_be_bytes(whole)
            }
        }
    }
}

impl ValueOrder {
    /// The least and greatest rank of a value `width` bytes wide.
    fn domain(self, width: usize) -> (u128, u128) {
        let (mut least, mut greatest) = (vec![0u8; width], vec![0xffu8; width]);
        if self == ValueOrder::Signed {
            least[width - 1] = 0x80;
            greatest[width - 1] = 0x7f;
        }
        (self.rank(&least, 0, width), self.rank(&greatest, 0, width))
    }
}

/// The signature of an integer array's elements (NULL elements left out): each sets two
/// of its 128 bits, chosen by a hash of the element as an i64, so equal elements of any
/// integer type set the same bits. An array holding every element of another has every
/// bit of its signature; two arrays with an element in common share two bits.
pub fn signature(elements: impl IntoIterator<Item = i64>) -> [u8; 16] {
    let bits = elements
        .into_iter()
        .fold(0, |bits, e| bits | element_bits(e));
    u128::to_le_bytes(bits)
}

/// The two bits element `element` sets in a signature.
fn element_bits(element: i64) -> u128 {
    let hash = mix(element as u64);
    (1 << (hash & 127)) | (1 << ((hash >> 7) & 127))
}

/// The 8 bytes a text value is kept as: a 64-bit hash of its bytes (FNV-1a, then
/// splitmix64's finaliser), so `=` compares hashes, with false positives only (the
/// executor rechecks every row). Equal values must have equal bytes: the extension keeps
/// text under deterministic collations only.
pub fn text_hash(bytes: &[u8]) -> [u8; 8] {
    let fnv = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    });
    mix(fnv).to_le_bytes()
}

/// splitmix64's finaliser: every input bit moves about half the output bits.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A signature test of an array column: which of `masks` the key's signature holds
/// whole.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bits {
    at: usize,
    masks: Vec<u128>,
    /// Every one of `masks` (`@>`: one mask, the query's whole signature), or any (`&&`:
    /// one mask per element, so a row passes only with both bits of one element).
    all: bool,
}

/// A range comparison a qual makes of a column: `column < value`, and so on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Less,
    LessOrEqual,
    GreaterOrEqual,
    Greater,
}

/// Up to this many values a column is compared with one by one, past it by binary search.
const LINEAR_VALUES: usize = 8;

impl OneOf {
    #[inline(always)]
    fn passes(&self, key: &[u8]) -> bool {
        let value = value_at(key, self.at, self.width);
        match self.values[..] {
            [one] => value == one,
            ref few if few.len() <= LINEAR_VALUES => few.contains(&value),
            ref many => many.binary_search(&value).is_ok(),
        }
    }
}

/// The conditions a scan's keys put on the columns, all of which a row must meet. The
/// header's flags are tested at once (`flags`: the key written, and each NULL or NOT NULL
/// a condition asks for), then the values; a key test costs a few nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFilter {
    format: KeyFormat,
    /// The header bits a condition is on, and what they must be.
    mask: u32,
    want: u32,
    /// Two conditions ask opposite things of one bit (`IS NULL AND IS NOT NULL`).
    contradictory: bool,
    values: Vec<OneOf>,
    ranges: Vec<Range>,
    signatures: Vec<Bits>,
}

impl KeyFilter {
    /// A filter every written key passes, until conditions are added.
    pub fn new(format: KeyFormat) -> KeyFilter {
        KeyFilter {
            format,
            mask: WRITTEN as u32,
            want: WRITTEN as u32,
            contradictory: false,
            values: Vec::new(),
            ranges: Vec::new(),
            signatures: Vec::new(),
        }
    }

    /// Column `column` must hold one of `values` (each of the column's width; none: no
    /// row passes, as `column = NULL` or `column = ANY('{}')`).
    pub fn one_of(&mut self, column: usize, values: Vec<Vec<u8>>) {
        assert!(values.iter().all(|v| v.len() == self.format.width(column)));
        let width = self.format.width(column);
        let mut values: Vec<u128> = values.iter().map(|v| value_at(v, 0, width)).collect();
        values.sort_unstable();
        values.dedup();
        self.flag(column, false);
        let at = self.format.offset(column);
        self.values.push(OneOf { at, width, values });
    }

    /// Column `column`, whose values order as `order`, must compare to one of `values`
    /// (each of the column's width) as `compare` says: `column < ANY(values)` is `column <`
    /// their largest, and so on; no value at all passes no row.
    pub fn compare(
        &mut self,
        column: usize,
        order: ValueOrder,
        compare: Compare,
        values: Vec<Vec<u8>>,
    ) {
        assert!(values.iter().all(|v| v.len() == self.format.width(column)));
        let width = self.format.width(column);
        let ranks = values.iter().map(|v| order.rank(v, 0, width));
        let bound = match compare {
            Compare::Less | Compare::LessOrEqual => ranks.max(),
            Compare::GreaterOrEqual | Compare::Greater => ranks.min(),
        };
        // As an inclusive range of the values the column can hold; a strict bound past
        // the least or greatest of them passes no row.
        let (least, greatest) = order.domain(width);
        let (low, high) = match (compare, bound) {
            (_, None) => (None, None),
            (Compare::Less, Some(b)) => (Some(least), b.checked_sub(1)),
            (Compare::LessOrEqual, Some(b)) => (Some(least), Some(b)),
            (Compare::GreaterOrEqual, Some(b)) => (Some(b), Some(greatest)),
            (Compare::Greater, Some(b)) => (b.checked_add(1), Some(greatest)),
        };
        self.flag(column, false);
        let at = self.format.offset(column);
        let (Some(low), Some(high)) = (low, high) else {
            self.contradictory = true;
            return;
        };
        // Ranges of one column (BETWEEN's two) are one range.
        match self.ranges.iter_mut().find(|r| r.at == at) {
            Some(range) => {
                range.low = range.low.max(low);
                range.high = range.high.min(high);
            }
            None => self.ranges.push(Range {
                at,
                width,
                order,
                low,
                high,
            }),
        }
    }

    /// Array column `column` (of 16-byte `signature`s) must hold every one of `elements`
    /// (`column @> array`; `all`), or one of them (`column && array`): tested on the
    /// signatures, so some keys pass that fail.
    pub fn holds(&mut self, column: usize, elements: impl IntoIterator<Item = i64>, all: bool) {
        assert_eq!(self.format.width(column), 16, "a signature column");
        self.flag(column, false);
        let at = self.format.offset(column);
        let elements = elements.into_iter().map(element_bits);
        let masks = if all {
            vec![elements.fold(0, |union, bits| union | bits)]
        } else {
            let mut masks: Vec<u128> = elements.collect();
            masks.sort_unstable();
            masks.dedup();
            masks
        };
        self.signatures.push(Bits { at, masks, all });
    }

    /// No key passes: the scan met a condition no row can meet (`column @> '{NULL}'`).
    pub fn pass_none(&mut self) {
        self.contradictory = true;
    }

    /// Column `column` must be NULL (`IS NULL`), or not (`IS NOT NULL`).
    pub fn null(&mut self, column: usize, null: bool) {
        assert!(column < self.format.columns());
        self.flag(column, null);
    }

    /// Column `column`'s NULL bit must be `null`.
    fn flag(&mut self, column: usize, null: bool) {
        let bit = 1u32 << (1 + column);
        let want = if null { bit } else { 0 };
        self.contradictory |= self.mask & bit != 0 && self.want & bit != want;
        self.mask |= bit;
        self.want |= want;
    }

    /// Whether no condition was added.
    pub fn is_empty(&self) -> bool {
        self.mask == WRITTEN as u32
            && self.values.is_empty()
            && self.ranges.is_empty()
            && self.signatures.is_empty()
    }

    /// Whether no key can pass (a column asked for no value at all, to be NULL and not,
    /// or for an empty range).
    pub fn is_unsatisfiable(&self) -> bool {
        self.contradictory
            || self.values.iter().any(|t| t.values.is_empty())
            || self.ranges.iter().any(|r| r.low > r.high)
            || self.signatures.iter().any(|t| !t.all && t.masks.is_empty())
    }

    pub fn format(&self) -> &KeyFormat {
        &self.format
    }

    /// Whether `key` (a stored key of this filter's format) passes every condition.
    /// Inlined into the pass over the key pages, where the call cost a fifth of the time.
    #[inline(always)]
    pub fn matches(&self, key: &[u8]) -> bool {
        // The header is at most 3 bytes (17 flag bits); bits past it are value bytes,
        // which no mask bit covers.
        let flags = match key {
            [a, b, c, ..] => u32::from_le_bytes([*a, *b, *c, 0]),
            [a, b] => u32::from_le_bytes([*a, *b, 0, 0]),
            [a] => *a as u32,
            [] => return false,
        };
        if flags & self.mask != self.want || self.contradictory {
            return false;
        }
        for test in &self.values {
            if !test.passes(key) {
                return false;
            }
        }
        for range in &self.ranges {
            let value = range.order.rank(key, range.at, range.width);
            if value < range.low || value > range.high {
                return false;
            }
        }
        for test in &self.signatures {
            let bits = value_at(key, test.at, 16);
            let held = |&mask: &u128| bits & mask == mask;
            let passes = if test.all {
                test.masks.iter().all(held)
            } else {
                test.masks.iter().any(held)
            };
            if !passes {
                return false;
            }
        }
        true
    }
}

/// The `width` bytes of `bytes` at `at` as one little-endian integer (a filter compares
/// values so, not byte by byte).
#[inline(always)]
fn value_at(bytes: &[u8], at: usize, width: usize) -> u128 {
    match width {
        8 => u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes")) as u128,
        16 => u128::from_le_bytes(bytes[at..at + 16].try_into().expect("16 bytes")),
        _ => {
            let mut whole = [0u8; 16];
            whole[..width].copy_from_slice(&bytes[at..at + width]);
            u128::from_le_bytes(whole)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> Vec<u8> {
        v.to_le_bytes().to_vec()
    }

    #[test]
    fn a_filter_tests_values_nulls_and_unwritten_keys() {
        let format = KeyFormat::new(vec![8, 16]);
        assert_eq!(format.key_bytes(), 1 + 8 + 16);
        let uuid = [7u8; 16];
        let key = format.encode(&[Some(&int(42)), Some(&uuid)]);
        let null_key = format.encode(&[None, Some(&uuid)]);
        let mut filter = KeyFilter::new(format.clone());
        assert!(filter.matches(&key) && filter.matches(&null_key));
        assert!(
            !filter.matches(&vec![0; format.key_bytes()]),
            "never written"
        );
        filter.one_of(0, vec![int(3), int(42), int(42)]);
        assert!(filter.matches(&key));
        assert!(!filter.matches(&null_key), "NULL equals nothing");
        filter.one_of(1, vec![vec![8u8; 16]]);
        assert!(!filter.matches(&key), "every condition must hold");

        let mut nulls = KeyFilter::new(format.clone());
        nulls.null(0, true);
        assert!(nulls.matches(&null_key) && !nulls.matches(&key));
        let mut not_null = KeyFilter::new(format.clone());
        not_null.null(0, false);
        assert!(!not_null.matches(&null_key) && not_null.matches(&key));
        let mut both = not_null.clone();
        both.null(0, true);
        assert!(both.is_unsatisfiable(), "IS NULL AND IS NOT NULL");
        assert!(!both.matches(&null_key) && !both.matches(&key));

        let mut none = KeyFilter::new(format);
        assert!(!none.is_unsatisfiable());
        none.one_of(0, Vec::new());
        assert!(none.is_unsatisfiable() && !none.matches(&key));
    }

    #[test]
    fn ranges_order_integers_as_signed_and_uuids_byte_by_byte() {
        let format = KeyFormat::new(vec![8, 16]);
        let uuid = |first: u8, last: u8| {
            let mut u = [0u8; 16];
            u[0] = first;
            u[15] = last;
            u.to_vec()
        };
        let key = |v: i64, u: &[u8]| format.encode(&[Some(&int(v)), Some(u)]);
        let mid = uuid(5, 0);
        let cases = [
            (Compare::Less, vec![int(0)], -1i64..0, 0..3),
            (Compare::LessOrEqual, vec![int(-2)], -3..-1, -1..1),
            (Compare::GreaterOrEqual, vec![int(-1)], -1..2, -3..-1),
            (Compare::Greater, vec![int(i64::MIN)], -3..3, 0..0),
            // column < ANY(values) is column < the largest; > ANY, > the smallest.
            (Compare::Less, vec![int(-3), int(2), int(-1)], -3..2, 2..3),
            (Compare::Greater, vec![int(1), int(-2)], -1..3, -3..-1),
        ];
        for (compare, values, passing, failing) in cases {
            let mut filter = KeyFilter::new(format.clone());
            filter.compare(0, ValueOrder::Signed, compare, values.clone());
            for v in passing {
                assert!(filter.matches(&key(v, &mid)), "{v} {compare:?} {values:?}");
            }
            for v in failing {
                assert!(!filter.matches(&key(v, &mid)), "{v} {compare:?} {values:?}");
            }
            assert!(!filter.matches(&format.encode(&[None, Some(&mid)])), "NULL");
        }
        for (v, passes) in [(i64::MIN, false), (-1, false), (0, true), (i64::MAX, true)] {
            let mut filter = KeyFilter::new(format.clone());
            filter.compare(0, ValueOrder::Signed, Compare::GreaterOrEqual, vec![int(0)]);
            assert_eq!(filter.matches(&key(v, &mid)), passes, "{v}");
        }
        // A uuid orders by its first bytes first, as memcmp does.
        let mut filter = KeyFilter::new(format.clone());
        filter.compare(1, ValueOrder::Bytes, Compare::Greater, vec![mid.clone()]);
        filter.compare(1, ValueOrder::Bytes, Compare::LessOrEqual, vec![uuid(6, 0)]);
        assert!(filter.matches(&key(0, &uuid(5, 1))) && filter.matches(&key(0, &uuid(6, 0))));
        assert!(!filter.matches(&key(0, &mid)) && !filter.matches(&key(0, &uuid(4, 255))));
        assert!(!filter.matches(&key(0, &uuid(6, 1))) && !filter.is_unsatisfiable());
        // Nothing below the least value, nor above the greatest; no value at all.
        for (compare, value) in [(Compare::Less, i64::MIN), (Compare::Greater, i64::MAX)] {
            let mut filter = KeyFilter::new(format.clone());
            filter.compare(0, ValueOrder::Signed, compare, vec![int(value)]);
            assert!(filter.is_unsatisfiable() && !filter.matches(&key(value, &mid)));
        }
        let mut empty = KeyFilter::new(format.clone());
        empty.compare(0, ValueOrder::Signed, Compare::Less, Vec::new());
        assert!(empty.is_unsatisfiable());
        // A range and a range of the same column, as BETWEEN makes them.
        let mut between = KeyFilter::new(format.clone());
        between.compare(0, ValueOrder::Signed, Compare::GreaterOrEqual, vec![int(2)]);
        between.compare(0, ValueOrder::Signed, Compare::LessOrEqual, vec![int(1)]);
        assert!(between.is_unsatisfiable() && !between.matches(&key(1, &mid)));
    }

    #[test]
    fn signatures_answer_overlap_and_containment_with_false_positives_only() {
        let format = KeyFormat::new(vec![16]);
        let key = |elements: &[i64]| format.encode(&[Some(&signature(elements.iter().copied()))]);
        let rows: Vec<Vec<i64>> = (0..300i64)
            .map(|i| (0..(i % 6)).map(|j| (i * 7 + j * 13) % 40 - 5).collect())
            .collect();
        let mut false_positives = 0;
        for query in [
            vec![3i64],
            vec![3, 17],
            vec![-5, 30, 31],
            vec![],
            vec![i64::MIN, i64::MAX],
        ] {
            for all in [false, true] {
                let mut filter = KeyFilter::new(format.clone());
                filter.holds(0, query.iter().copied(), all);
                assert_eq!(filter.is_unsatisfiable(), !all && query.is_empty());
                for row in &rows {
                    let truth = if all {
                        query.iter().all(|q| row.contains(q))
                    } else {
                        query.iter().any(|q| row.contains(q))
                    };
                    let passes = filter.matches(&key(row));
                    assert!(
                        passes || !truth,
                        "{row:?} {query:?} {all}: a row that passes"
                    );
                    false_positives += usize::from(passes && !truth);
                }
            }
        }
        // Two bits an element of 128, and `&&` asks for both bits of one element: few
        // rows of up to five elements pass wrongly (38 of 3,000 tests here).
        assert!(
            false_positives < 100,
            "{false_positives} false positives of 3,000"
        );
        let mut none = KeyFilter::new(format.clone());
        none.pass_none();
        assert!(none.is_unsatisfiable() && !none.matches(&key(&[1])));
        let mut overlap = KeyFilter::new(format.clone());
        overlap.holds(0, [1], false);
        assert!(
            !overlap.matches(&format.encode(&[None])),
            "a NULL array overlaps nothing"
        );
    }

    #[test]
    fn text_hashes_differ_for_different_values() {
        let values = [
            "",
            "a",
            "b",
            "ab",
            "ba",
            "a ",
            "A",
            "é",
            "e\u{301}",
            "long value",
        ];
        let hashes: std::collections::HashSet<[u8; 8]> =
            values.iter().map(|v| text_hash(v.as_bytes())).collect();
        assert_eq!(hashes.len(), values.len());
        assert_eq!(text_hash(b"ab"), text_hash(b"ab"));
    }

    #[test]
    fn long_value_lists_are_searched_whole() {
        let format = KeyFormat::new(vec![8]);
        let mut filter = KeyFilter::new(format.clone());
        filter.one_of(0, (0..40).rev().map(|v| int(v * 3)).collect());
        for v in -3..130 {
            let key = format.encode(&[Some(&int(v))]);
            assert_eq!(
                filter.matches(&key),
                v % 3 == 0 && (0..120).contains(&v),
                "{v}"
            );
        }
    }

    #[test]
    fn null_bits_of_many_columns_stay_apart() {
        let format = KeyFormat::new(vec![1; MAX_KEY_COLUMNS]);
        assert!(format.key_bytes() <= MAX_KEY_BYTES);
        for null_column in 0..MAX_KEY_COLUMNS {
            let ones = [1u8];
            let values: Vec<Option<&[u8]>> = (0..MAX_KEY_COLUMNS)
                .map(|c| (c != null_column).then_some(&ones[..]))
                .collect();
            let key = format.encode(&values);
            for column in 0..MAX_KEY_COLUMNS {
                let mut filter = KeyFilter::new(format.clone());
                filter.null(column, true);
                assert_eq!(filter.matches(&key), column == null_column);
            }
        }
    }
}
