//! The columns after the vector in a multicolumn index (`USING hnsw (embedding
//! vector_l2_ops, category, tenant_id)`): which types they may have, how a row's values
//! become its node's key (`hnsw_core::page::keys`), and how a scan's quals on them
//! (`=`, `= ANY`, `<`, `<=`, `>=`, `>` and their `ANY` forms, `IS NULL`, `IS NOT NULL`)
//! become the filter the scan applies itself.
//!
//! Values are written so that equal SQL values have equal bytes: every integer type as
//! an 8-byte integer (so the cross-type members of the integer family, `bigint_column =
//! 42`, compare the same bytes), `bool` as 0 or 1, `date` as its day number,
//! `timestamp` and `timestamptz` as their microseconds, `uuid` as its 16 bytes.

use hnsw_core::page::keys::{
    signature, text_hash, Compare, KeyFilter, KeyFormat, ValueOrder, MAX_KEY_COLUMNS,
};
use pgrx::{pg_sys, PgSqlErrorCode};

/// The search operators of hnsw_pg's key operator classes, numbered as btree's: 1 `<`,
/// 2 `<=`, 3 `=`, 4 `>=`, 5 `>` (`bool_ops` has `=` only); for integer arrays, 6 `&&`
/// and 7 `@>`.
pub const EQUAL_STRATEGY: u16 = 3;
const OVERLAP_STRATEGY: u16 = 6;
const CONTAINS_STRATEGY: u16 = 7;

/// The range comparison of strategy `strategy`, if it is one.
fn range_of(strategy: u16) -> Option<Compare> {
    Some(match strategy {
        1 => Compare::Less,
        2 => Compare::LessOrEqual,
        4 => Compare::GreaterOrEqual,
        5 => Compare::Greater,
        _ => return None,
    })
}

/// A key column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyType {
    Int2,
    Int4,
    Int8,
    Bool,
    Date,
    Timestamp,
    TimestampTz,
    Uuid,
    /// Kept as a hash of its bytes (`text_hash`), for `=` only.
    Text,
    /// An array of integers of this type, kept as a signature of its elements.
    Array(Integer),
}

/// The element type of an integer array column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Integer {
    Int2,
    Int4,
    Int8,
}

impl Integer {
    fn oid(self) -> pg_sys::Oid {
        match self {
            Integer::Int2 => pg_sys::INT2OID,
            Integer::Int4 => pg_sys::INT4OID,
            Integer::Int8 => pg_sys::INT8OID,
        }
    }

    fn value(self, datum: pg_sys::Datum) -> i64 {
        match self {
            Integer::Int2 => datum.value() as i16 as i64,
            Integer::Int4 => datum.value() as i32 as i64,
            Integer::Int8 => datum.value() as i64,
        }
    }
}

impl KeyType {
    fn of(type_oid: pg_sys::Oid) -> Option<KeyType> {
        Some(match type_oid {
            pg_sys::INT2OID => KeyType::Int2,
            pg_sys::INT4OID => KeyType::Int4,
            pg_sys::INT8OID => KeyType::Int8,
            pg_sys::BOOLOID => KeyType::Bool,
            pg_sys::DATEOID => KeyType::Date,
            pg_sys::TIMESTAMPOID => KeyType::Timestamp,
            pg_sys::TIMESTAMPTZOID => KeyType::TimestampTz,
            pg_sys::UUIDOID => KeyType::Uuid,
            pg_sys::TEXTOID => KeyType::Text,
            pg_sys::INT2ARRAYOID => KeyType::Array(Integer::Int2),
            pg_sys::INT4ARRAYOID => KeyType::Array(Integer::Int4),
            pg_sys::INT8ARRAYOID => KeyType::Array(Integer::Int8),
            _ => return None,
        })
    }

    /// Whether a value of this type compares with one of `column`'s by their bytes.
    fn compares_with(self, column: KeyType) -> bool {
        let integer = |t| matches!(t, KeyType::Int2 | KeyType::Int4 | KeyType::Int8);
        self == column || integer(self) && integer(column)
    }

    /// How the stored values order: as the SQL values do.
    fn order(self) -> ValueOrder {
        match self {
            KeyType::Uuid => ValueOrder::Bytes,
            _ => ValueOrder::Signed,
        }
    }

    fn width(self) -> usize {
        match self {
            KeyType::Uuid | KeyType::Array(_) => 16,
            _ => 8,
        }
    }

    /// The stored bytes of `datum`, a non-NULL value of this type.
    ///
    /// # Safety
    /// `datum` is a valid value of this type.
    unsafe fn encode(self, datum: pg_sys::Datum) -> Vec<u8> {
        let integer = |v: i64| v.to_le_bytes().to_vec();
        match self {
            KeyType::Int2 => integer(datum.value() as i16 as i64),
            KeyType::Int4 | KeyType::Date => integer(datum.value() as i32 as i64),
            KeyType::Int8 | KeyType::Timestamp | KeyType::TimestampTz => {
                integer(datum.value() as i64)
            }
            KeyType::Bool => integer((datum.value() as u8 != 0) as i64),
            // SAFETY: a uuid datum points at its 16 bytes (pg_uuid_t), never toasted.
            KeyType::Uuid => unsafe {
                std::slice::from_raw_parts(datum.cast_mut_ptr::<u8>(), 16).to_vec()
            },
            // SAFETY: a text datum, perhaps toasted; detoasted into the current memory
            // context (a build's tuple context, an insert's per-tuple one).
            KeyType::Text => unsafe {
                let text = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
                text_hash(pgrx::varlena::varlena_to_byte_slice(text)).to_vec()
            },
            KeyType::Array(element) => {
                // SAFETY: an array of this element type.
                let (elements, _) = unsafe { array_elements(datum, element.oid()) };
                signature(elements.into_iter().map(|e| element.value(e))).to_vec()
            }
        }
    }
}

/// The key columns of an index and the key they make.
pub struct KeyColumns {
    types: Vec<KeyType>,
    format: KeyFormat,
}

/// The key columns of `index` (its key columns after the first), or `None` for an index
/// of the vector alone. A column of a type no key operator class takes (an operator class
/// given for the wrong column) is an ERROR.
pub fn key_columns(index: pg_sys::Relation) -> Option<KeyColumns> {
    // SAFETY: an open index relation's rd_index, rd_opcintype and rd_indcollation (one
    // entry per key column) are valid for the relation's lifetime.
    let (columns, types, collations) = unsafe {
        let columns = (*(*index).rd_index).indnkeyatts as usize;
        let types = std::slice::from_raw_parts((*index).rd_opcintype, columns);
        let collations = std::slice::from_raw_parts((*index).rd_indcollation, columns);
        (columns, types, collations)
    };
    if columns <= 1 {
        return None;
    }
    if columns - 1 > MAX_KEY_COLUMNS {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_TOO_MANY_COLUMNS,
            format!(
                "an hnsw index holds at most {MAX_KEY_COLUMNS} columns after the vector, not {}",
                columns - 1
            )
        );
    }
    let types: Vec<KeyType> = types[1..]
        .iter()
        .enumerate()
        .map(|(i, &oid)| {
            KeyType::of(oid).unwrap_or_else(|| {
                crate::error::raise_with_hint(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    format!("column {} of an hnsw index cannot be a filter column", i + 2),
                    "The first column of an hnsw index is the vector; the columns after it may be smallint, integer, bigint, boolean, date, timestamp, timestamptz, uuid, text, smallint[], integer[] or bigint[].",
                )
            })
        })
        .collect();
    // Text is kept as a hash of its bytes, which says nothing of values a
    // nondeterministic collation calls equal.
    for (i, t) in types.iter().enumerate() {
        // SAFETY: a syscache lookup of a set collation (a type that takes none, binary
        // coercible to text, has none: refused too).
        let collation = collations[i + 1];
        if *t == KeyType::Text
            && (collation == pg_sys::InvalidOid
                || !unsafe { pg_sys::get_collation_isdeterministic(collation) })
        {
            crate::error::raise_with_hint(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("column {} of an hnsw index is text without a deterministic collation", i + 2),
                "A text filter column needs a deterministic collation; give the column one in the index, e.g. (name COLLATE \"C\").",
            );
        }
    }
    let format = KeyFormat::new(types.iter().map(|t| t.width()).collect());
    Some(KeyColumns { types, format })
}

impl KeyColumns {
    pub fn format(&self) -> &KeyFormat {
        &self.format
    }

    /// The key of a row whose index columns hold `values` and `isnull` (the vector first).
    ///
    /// # Safety
    /// `values` and `isnull` hold one entry per index column, as an insert or a build
    /// callback gets them.
    pub unsafe fn encode(&self, values: *const pg_sys::Datum, isnull: *const bool) -> Vec<u8> {
        let bytes: Vec<Option<Vec<u8>>> = self
            .types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                // SAFETY: entries 1..=columns exist (see above), each valid of its type
                // when not NULL.
                unsafe { (!*isnull.add(i + 1)).then(|| t.encode(*values.add(i + 1))) }
            })
            .collect();
        let refs: Vec<Option<&[u8]>> = bytes.iter().map(|b| b.as_deref()).collect();
        self.format.encode(&refs)
    }

    /// The filter of a scan's `keys`, each a qual on one column after the vector (see
    /// `scan_filter` for the vector's own column).
    ///
    /// # Safety
    /// `keys` holds `nkeys` scan keys of this index.
    unsafe fn filter(&self, keys: pg_sys::ScanKey, nkeys: usize) -> KeyFilter {
        let mut filter = KeyFilter::new(self.format.clone());
        for k in 0..nkeys {
            // SAFETY: the caller's keys.
            let key = unsafe { &*keys.add(k) };
            let flags = key.sk_flags as u32;
            let column = key.sk_attno as usize;
            if column == 1 {
                continue; // IS NOT NULL (see `scan_filter`)
            }
            let column = column - 2;
            assert!(
                column < self.types.len(),
                "a scan key of one of the index's columns"
            );
            if flags & pg_sys::SK_SEARCHNULL != 0 {
                filter.null(column, true);
            } else if flags & pg_sys::SK_SEARCHNOTNULL != 0 {
                filter.null(column, false);
            } else if flags & pg_sys::SK_ISNULL != 0 {
                filter.one_of(column, Vec::new()); // `= NULL` passes no row
            } else if let KeyType::Array(element) = self.types[column] {
                let strategy = key.sk_strategy;
                let all = match strategy {
                    OVERLAP_STRATEGY => false,
                    CONTAINS_STRATEGY => true,
                    _ => unknown_operator(strategy),
                };
                if flags & pg_sys::SK_SEARCHARRAY != 0 {
                    unknown_operator(strategy);
                }
                // SAFETY: the argument of `&&` or `@>` on an array column is an array.
                let (elements, has_null) = unsafe { array_argument(key, element) };
                if all && has_null {
                    filter.pass_none(); // a NULL element is contained in no array
                } else {
                    filter.holds(column, elements.into_iter().map(|e| element.value(e)), all);
                }
            } else {
                // `=` and ranges across integer types compare the same 8 bytes.
                // SAFETY: the argument is of the operator's right type, `sk_subtype`.
                let values = unsafe { argument_values(key, flags, self.types[column]) };
                match (key.sk_strategy, range_of(key.sk_strategy)) {
                    (EQUAL_STRATEGY, _) => filter.one_of(column, values),
                    (_, Some(compare)) => {
                        filter.compare(column, self.types[column].order(), compare, values)
                    }
                    (strategy, None) => unknown_operator(strategy),
                }
            }
        }
        filter
    }
}

/// The filter a scan of `index` with `keys` applies, if it has key columns and quals on
/// them. A key on the vector's column can only be `IS NOT NULL` (which every indexed row
/// passes) or `IS NULL`, which the index cannot answer (it holds no NULL vector): an
/// ERROR, and a path the planner never takes (`cost`).
///
/// # Safety
/// `index` is open; `keys` holds `nkeys` scan keys of it.
pub unsafe fn scan_filter(
    index: pg_sys::Relation,
    keys: pg_sys::ScanKey,
    nkeys: usize,
) -> Option<KeyFilter> {
    if keys.is_null() || nkeys == 0 {
        return None;
    }
    let mut on_keys = false;
    for k in 0..nkeys {
        // SAFETY: the caller's keys.
        let key = unsafe { &*keys.add(k) };
        if key.sk_attno != 1 {
            on_keys = true;
        } else if key.sk_flags as u32 & pg_sys::SK_SEARCHNULL != 0 {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "an hnsw index does not hold rows whose vector is NULL"
            );
        }
    }
    let columns = key_columns(index).filter(|_| on_keys)?;
    // SAFETY: the caller's keys.
    Some(unsafe { columns.filter(keys, nkeys) })
}

/// The stored bytes of a scan key's argument: one value, or every non-NULL element of
/// an `= ANY` array.
///
/// # Safety
/// `key` is a valid scan key whose argument is of type `sk_subtype` (an array of it with
/// `SK_SEARCHARRAY`).
unsafe fn argument_values(key: &pg_sys::ScanKeyData, flags: u32, column: KeyType) -> Vec<Vec<u8>> {
    // hnsw_pg's operator families compare an integer with an integer, any other type
    // with itself: another type's bytes (an operator someone added to a family) would
    // compare wrongly.
    let Some(element_type) = KeyType::of(key.sk_subtype).filter(|t| t.compares_with(column)) else {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "an hnsw index cannot compare a filter column with a value of this type"
        );
    };
    if flags & pg_sys::SK_SEARCHARRAY == 0 {
        // SAFETY: a value of the key's type.
        return vec![unsafe { element_type.encode(key.sk_argument) }];
    }
    // SAFETY: an array of `sk_subtype` elements.
    let (elements, _) = unsafe { array_elements(key.sk_argument, key.sk_subtype) };
    elements
        .into_iter()
        // SAFETY: values of the key's type.
        .map(|e| unsafe { element_type.encode(e) })
        .collect()
}

/// The non-NULL elements of array `datum`, whose elements are of type `element`, and
/// whether it has a NULL one (flattened: `&&` and `@>` take arrays as sets).
///
/// # Safety
/// `datum` is an array whose elements are of type `element`.
unsafe fn array_elements(datum: pg_sys::Datum, element: pg_sys::Oid) -> (Vec<pg_sys::Datum>, bool) {
    // SAFETY: deconstruct_array palloc's the element and null arrays in the current
    // memory context.
    unsafe {
        let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let (mut length, mut by_value, mut align) = (0i16, false, 0 as std::ffi::c_char);
        pg_sys::get_typlenbyvalalign(element, &mut length, &mut by_value, &mut align);
        let (mut elements, mut nulls, mut count) = (std::ptr::null_mut(), std::ptr::null_mut(), 0);
        pg_sys::deconstruct_array(
            array,
            element,
            length as i32,
            by_value,
            align,
            &mut elements,
            &mut nulls,
            &mut count,
        );
        let count = count as usize;
        let has_null = (0..count).any(|i| *nulls.add(i));
        let values = (0..count)
            .filter(|&i| !*nulls.add(i))
            .map(|i| *elements.add(i))
            .collect();
        (values, has_null)
    }
}

/// The elements of the array argument of `&&` or `@>` on an integer array column of
/// `element`s: an array of another element type (an operator someone added to the
/// family) is an ERROR.
///
/// # Safety
/// `key`'s argument is an array.
unsafe fn array_argument(
    key: &pg_sys::ScanKeyData,
    element: Integer,
) -> (Vec<pg_sys::Datum>, bool) {
    // SAFETY: an array datum, detoasted to read its element type.
    let actual = unsafe {
        let array =
            pg_sys::pg_detoast_datum(key.sk_argument.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        (*array).elemtype
    };
    if actual != element.oid() {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "an hnsw index cannot compare a filter column with a value of this type"
        );
    }
    // SAFETY: checked just above.
    unsafe { array_elements(key.sk_argument, actual) }
}

/// An operator someone added to a key operator family under a strategy number hnsw_pg
/// does not know.
fn unknown_operator(strategy: u16) -> ! {
    crate::error::raise_with_hint(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("an hnsw index cannot apply an operator of strategy {strategy} to a filter column"),
        "The strategies of hnsw_pg's filter operator classes are btree's: 1 <, 2 <=, 3 =, 4 >=, 5 >.",
    )
}

/// Refuses an index whose meta page's key width is not its columns' (a damaged page, or
/// columns changed under it): keys read at the wrong width would filter wrongly.
pub fn key_mismatch(meta: &hnsw_core::page::Meta, columns_bytes: usize) -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        format!(
            "corrupt hnsw_pg index: its meta page says {} key bytes, its columns make {columns_bytes}; REINDEX it",
            meta.key_bytes
        )
    );
}
