//! Text and binary I/O and the `vector(n)` modifier (also `halfvec(n)`'s). The binary format is pgvector's:
//! int16 dim, int16 unused (0), then dim float4, all in network byte order.

use super::datum::Vector;
use crate::error::OrRaise;
use hnsw_core::error::{check_typmod, typmod_from_modifiers};
use hnsw_core::text::{format_vector, parse_vector};
use pgrx::prelude::*;
use pgrx::Internal;
use std::ffi::{CStr, CString};

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_in(input: &CStr, _type_oid: pg_sys::Oid, typmod: i32) -> Vector {
    let text = input.to_string_lossy();
    let values = parse_vector(&text).or_raise();
    check_typmod(typmod, values.len()).or_raise();
    Vector::from_slice(&values)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_out(v: Vector) -> CString {
    CString::new(format_vector(v.as_slice())).expect("formatted floats contain no NUL")
}

/// `vector(n)`: Postgres hands the modifiers over as a cstring[].
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_typmod_in(fcinfo: pg_sys::FunctionCallInfo) -> i32 {
    typmod_from_modifiers(&typmods(fcinfo)).or_raise()
}

/// The integers of a typmod_in function's cstring[] argument.
///
/// The caller's SQL signature must be (cstring[]), and it must be strict.
pub(super) fn typmods(fcinfo: pg_sys::FunctionCallInfo) -> Vec<i32> {
    let mut count = 0;
    // SAFETY: as the caller promises, argument 0 is a non-null array; ArrayGetIntegerTypmods
    // checks its element type and raises an ERROR for anything that is not an integer.
    unsafe {
        let array = pg_sys::pg_detoast_datum(pgrx::pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr());
        let ptr = pg_sys::ArrayGetIntegerTypmods(array as *mut pg_sys::ArrayType, &mut count);
        std::slice::from_raw_parts(ptr, count as usize).to_vec()
    }
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_typmod_out(typmod: i32) -> CString {
    let text = if typmod < 0 {
        String::new()
    } else {
        format!("({typmod})")
    };
    CString::new(text).expect("no NUL in a number")
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_recv(buf: Internal, _type_oid: pg_sys::Oid, typmod: i32) -> Vector {
    let values = receive(buf, |rest| hnsw_core::binary::decode(rest).or_raise());
    check_typmod(typmod, values.len()).or_raise();
    Vector::from_slice(&values)
}

/// Decodes a value from the unread part of a receive function's message buffer and moves
/// the cursor past it. `decode` returns the value and the bytes it took (or raises).
pub(super) fn receive<T>(mut buf: Internal, decode: impl FnOnce(&[u8]) -> (T, usize)) -> T {
    // SAFETY: receive functions are declared (internal, oid, integer), and Postgres passes
    // a StringInfo as the first argument.
    let buf: *mut pg_sys::StringInfoData = match unsafe { buf.get_mut::<pg_sys::StringInfoData>() }
    {
        Some(b) => b,
        None => pgrx::error!("receive function called without a buffer"),
    };
    // SAFETY: a StringInfo's `data` holds `len` bytes, of which `cursor` are consumed.
    let rest = unsafe {
        let (data, len, cursor) = (
            (*buf).data as *const u8,
            (*buf).len as usize,
            (*buf).cursor as usize,
        );
        std::slice::from_raw_parts(data.add(cursor), len.saturating_sub(cursor))
    };
    let (value, used) = decode(rest);
    // SAFETY: `used` <= the bytes left, so the cursor stays within the message.
    unsafe { (*buf).cursor += used as i32 };
    value
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_send(v: Vector) -> Vec<u8> {
    hnsw_core::binary::encode(v.as_slice())
}
