//! pgvector's functions on Postgres' own `bit` type: `hamming_distance`,
//! `jaccard_distance` (the `<~>` and `<%>` operators) and `binary_quantize` of `vector`
//! and `halfvec`. Distances go to the POPCNT kernels through the slot form.

use super::{HalfVec, Vector};
use hnsw_core::bits::{quantize, to_slots};
use hnsw_core::distance::{self, kernels};
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;
use pgrx::FromDatum;
use std::ptr::NonNull;

/// A VarBit: 4-byte varlena header, int32 bit length, then the bits, first in the high
/// bit of the first byte.
const BITS_OFFSET: usize = 8;

/// A detoasted `bit` datum (valid for the current call).
pub struct BitString {
    varlena: NonNull<u8>,
}

impl BitString {
    /// # Safety
    /// `datum` must be a non-null datum of type `bit`.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> BitString {
        // SAFETY: the caller passes a bit varlena; detoasting returns a plain one.
        let varlena = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) } as *mut u8;
        // SAFETY: a detoasted varlena has its 4-byte length word.
        let size = unsafe { pgrx::varsize(varlena as *const pg_sys::varlena) };
        let bit = BitString {
            // SAFETY: pg_detoast_datum never returns null.
            varlena: unsafe { NonNull::new_unchecked(varlena) },
        };
        if size < BITS_OFFSET || size < BITS_OFFSET + bit.len().div_ceil(8) {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                "corrupt bit datum"
            );
        }
        bit
    }

    /// A new value in the current memory context holding `len` bits from `bytes`.
    fn new(len: usize, bytes: &[u8]) -> BitString {
        let size = BITS_OFFSET + bytes.len();
        // SAFETY: palloc0 returns `size` zeroed, aligned bytes or raises an ERROR; we write
        // the header, the length and `bytes` within them.
        unsafe {
            let p = pg_sys::palloc0(size) as *mut u8;
            pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
            (p.add(4) as *mut i32).write(len as i32);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.add(BITS_OFFSET), bytes.len());
            BitString {
                varlena: NonNull::new_unchecked(p),
            }
        }
    }

    /// The length in bits.
    pub fn len(&self) -> usize {
        // SAFETY: `from_datum` and `new` checked or wrote the int32 after the header.
        unsafe { (self.varlena.as_ptr().add(4) as *const i32).read() }.max(0) as usize
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `from_datum` checked that the bits' bytes lie inside the varlena.
        unsafe {
            std::slice::from_raw_parts(
                self.varlena.as_ptr().add(BITS_OFFSET),
                self.len().div_ceil(8),
            )
        }
    }
}

impl FromDatum for BitString {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        // SAFETY: the function's SQL signature says this argument is a bit.
        (!is_null).then(|| unsafe { BitString::from_datum(datum) })
    }
}

// SAFETY: unboxing goes through FromDatum; the functions are strict, so never NULL.
unsafe impl<'fcx> ArgAbi<'fcx> for BitString {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the caller (pgrx's wrapper) hands us a valid argument of this function.
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} of type bit must not be NULL"))
    }
}

// SAFETY: the datum is a palloc'd varlena in the current memory context.
unsafe impl BoxRet for BitString {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: returning a valid by-reference datum.
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.varlena.as_ptr())) }
    }
}

// SAFETY: the layout above is Postgres' VarBit, the `bit` type's.
unsafe impl SqlTranslatable for BitString {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(BitString);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("bit"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("bit")));
}

/// Both operands' slots, after checking they have the same length.
fn pair(a: &BitString, b: &BitString) -> (Vec<f32>, Vec<f32>) {
    if a.len() != b.len() {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("different bit lengths {} and {}", a.len(), b.len())
        );
    }
    (to_slots(a.bytes()), to_slots(b.bytes()))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn hamming_distance(a: BitString, b: BitString) -> f64 {
    let (a, b) = pair(&a, &b);
    (kernels().hamming)(&a, &b) as f64
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn jaccard_distance(a: BitString, b: BitString) -> f64 {
    let (a, b) = pair(&a, &b);
    distance::jaccard_distance((kernels().bit_counts)(&a, &b))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn binary_quantize(v: Vector) -> BitString {
    BitString::new(v.dims(), &quantize(v.as_slice()))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_binary_quantize(v: HalfVec) -> BitString {
    BitString::new(v.dims(), &quantize(&v.to_f32()))
}
