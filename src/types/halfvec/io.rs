//! Text and binary I/O of `halfvec`: the same formats as `vector`'s, with float16
//! elements on the wire. The `halfvec(n)` modifier reads as `vector(n)`'s does.

use crate::error::OrRaise;
use crate::types::io::receive;
use crate::types::io::typmods;
use crate::types::HalfVec;
use hnsw_core::binary::{decode_halves, encode_halves};
use hnsw_core::element::widen;
use hnsw_core::error::{check_typmod, typmod_from_modifiers};
use hnsw_core::text::{format_vector, parse_halfvec};
use pgrx::prelude::*;
use pgrx::Internal;
use std::ffi::{CStr, CString};

const TYPE: &str = "halfvec";

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_in(input: &CStr, _type_oid: pg_sys::Oid, typmod: i32) -> HalfVec {
    let values = parse_halfvec(&input.to_string_lossy()).or_raise_for(TYPE);
    check_typmod(typmod, values.len()).or_raise_for(TYPE);
    HalfVec::from_slice(&values)
}

/// Each element as the shortest float4 text that reads back to it (as pgvector).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_out(v: HalfVec) -> CString {
    CString::new(format_vector(&widen(v.as_slice()))).expect("formatted floats contain no NUL")
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_typmod_in(fcinfo: pg_sys::FunctionCallInfo) -> i32 {
    typmod_from_modifiers(&typmods(fcinfo)).or_raise_for(TYPE)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_recv(buf: Internal, _type_oid: pg_sys::Oid, typmod: i32) -> HalfVec {
    let values = receive(buf, |rest| decode_halves(rest).or_raise_for(TYPE));
    check_typmod(typmod, values.len()).or_raise_for(TYPE);
    HalfVec::from_slice(&values)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_send(v: HalfVec) -> Vec<u8> {
    encode_halves(v.as_slice())
}
