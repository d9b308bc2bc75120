//! Casts: vector to vector(n), arrays of integer, real, double precision and numeric to
//! vector, and vector to real[]; the array reading the array casts of halfvec and
//! sparsevec share.

use super::datum::Vector;
use crate::error::{raise_for, OrRaise};
use hnsw_core::error::{check_dimensions, check_typmod, check_vector};
use hnsw_core::VectorError;
use pgrx::prelude::*;

/// `vector::vector(n)`: enforces the target's dimension count.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector(v: Vector, typmod: i32, _explicit: bool) -> Vector {
    check_typmod(typmod, v.dims()).or_raise();
    v
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_to_float4(v: Vector, _typmod: i32, _explicit: bool) -> Vec<f32> {
    v.as_slice().to_vec()
}

/// One C function behind the four array casts; the element type decides the conversion.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn array_to_vector(fcinfo: pg_sys::FunctionCallInfo) -> Vector {
    let values = array_values(fcinfo, "vector");
    check_vector(&values).or_raise();
    Vector::from_slice(&values)
}

/// The elements of a cast's array argument as float4, after pgvector's checks in its
/// order: a 1-D array without NULLs, its count, the target's dimensions (argument 1).
///
/// The caller's SQL signature must be (<type>[], integer, boolean), and it must be strict.
pub(super) fn array_values(fcinfo: pg_sys::FunctionCallInfo, ty: &str) -> Vec<f32> {
    with_array_elements(fcinfo, ty, check_dimensions, |elements, element_type| {
        elements
            .iter()
            .map(|&d| element_to_f32(d, element_type, ty))
            .collect()
    })
}

/// Calls `with` on the element datums of a cast's array argument and their type, after
/// the checks of `array_values`, with `check_count` for the count (a dense type's
/// dimension limit, or a sparse one's). The datums are deconstruct_array's, not copied.
pub(super) fn with_array_elements<R>(
    fcinfo: pg_sys::FunctionCallInfo,
    ty: &str,
    check_count: impl Fn(usize) -> Result<(), VectorError>,
    with: impl FnOnce(&[pg_sys::Datum], pg_sys::Oid) -> R,
) -> R {
    // SAFETY: as the caller promises, argument 0 is a non-null array and argument 1 an
    // int4 typmod.
    let (array, typmod) = unsafe {
        let datum = pgrx::pg_getarg_datum_raw(fcinfo, 0);
        let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
        (array, pgrx::pg_getarg_datum_raw(fcinfo, 1).value() as i32)
    };
    // SAFETY: `array` is a detoasted ArrayType, so its header fields can be read.
    let (ndim, element_type) = unsafe { ((*array).ndim, (*array).elemtype) };
    if ndim > 1 {
        raise_for(VectorError::ArrayNotOneDimensional, ty);
    }
    // SAFETY: as above; array_contains_nulls only reads the array.
    if unsafe { pg_sys::array_contains_nulls(array) } {
        raise_for(VectorError::ArrayHasNulls, ty);
    }
    let elements = deconstruct(array, element_type);
    check_count(elements.len()).or_raise_for(ty);
    check_typmod(typmod, elements.len()).or_raise_for(ty);
    with(elements, element_type)
}

/// The element datums of a 1-D (or empty) array without nulls, palloc'd in the call's
/// memory context (so a failed allocation is an ERROR). By-reference datums point into the
/// array. Both live until the end of the call; the callers above use them within it.
fn deconstruct<'call>(
    array: *mut pg_sys::ArrayType,
    element_type: pg_sys::Oid,
) -> &'call [pg_sys::Datum] {
    let (mut len, mut by_value, mut align) = (0i16, false, 0 as std::ffi::c_char);
    let mut datums: *mut pg_sys::Datum = std::ptr::null_mut();
    let mut count = 0;
    // SAFETY: `array` is a valid detoasted array of `element_type`; deconstruct_array
    // pallocs the datum array (living until the end of the call) and sets `count`.
    unsafe {
        pg_sys::get_typlenbyvalalign(element_type, &mut len, &mut by_value, &mut align);
        pg_sys::deconstruct_array(
            array,
            element_type,
            len as i32,
            by_value,
            align,
            &mut datums,
            std::ptr::null_mut(),
            &mut count,
        );
    }
    if count == 0 {
        return &[];
    }
    // SAFETY: deconstruct_array filled `count` datums at `datums`, which stay allocated
    // until the end of the call.
    unsafe { std::slice::from_raw_parts(datums, count as usize) }
}

/// One element of an integer, real, double precision or numeric array as float4.
pub(super) fn element_to_f32(datum: pg_sys::Datum, element_type: pg_sys::Oid, ty: &str) -> f32 {
    match element_type {
        pg_sys::INT4OID => datum.value() as i32 as f32,
        pg_sys::FLOAT4OID => f32::from_bits(datum.value() as u32),
        // Beyond float4's range it narrows to an infinity, which the element check then
        // reports as pgvector does ("infinite value not allowed in vector").
        pg_sys::FLOAT8OID => f64::from_bits(datum.value() as u64) as f32,
        // SAFETY: numeric_float4 takes one numeric datum and raises an ERROR when the value
        // does not fit a float4.
        pg_sys::NUMERICOID => unsafe {
            pgrx::direct_function_call::<f32>(pg_sys::numeric_float4, &[Some(datum)])
                .expect("numeric_float4 never returns NULL")
        },
        other => {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                format!("unsupported array element type {other:?} for a cast to {ty}")
            );
        }
    }
}
