//! `sparsevec`, pgvector's sparse vector: its datum (pgvector's layout: a 4-byte varlena
//! header, int32 dim, int32 nnz, int32 unused, nnz int32 0-based indices, nnz float4
//! values), I/O, functions, operators and casts. The format and the arithmetic are in
//! `hnsw_core::sparse`. No index operator classes yet.

use super::{HalfVec, Vector};
use crate::error::OrRaise;
use hnsw_core::element::to_halves;
use hnsw_core::error::{check_dimensions, check_element, check_typmod};
use hnsw_core::sparse::{self, check_same_dimensions, Sparse};
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::prelude::*;
use pgrx::{FromDatum, Internal};
use std::cmp::Ordering;
use std::ffi::{CStr, CString};

const TYPE: &str = "sparsevec";
const HEADER: usize = 16;

/// A `sparsevec` value, read out of (or to be written as) its datum.
pub struct SparseVec(Sparse);

impl SparseVec {
    /// # Safety
    /// `datum` must be a non-null datum of type `sparsevec`.
    pub(crate) unsafe fn from_datum(datum: pg_sys::Datum) -> SparseVec {
        // SAFETY: the caller passes a sparsevec varlena; detoasting returns a plain one.
        let p = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) } as *const u8;
        // SAFETY: a detoasted varlena has its length word; we read only within `size`.
        let bytes = unsafe {
            let size = pgrx::varsize(p as *const pg_sys::varlena);
            std::slice::from_raw_parts(p, size)
        };
        let int = |at: usize| i32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let corrupt = || -> ! {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                "corrupt sparsevec datum"
            );
        };
        if bytes.len() < HEADER {
            corrupt();
        }
        let (dim, nnz) = (int(4), int(8));
        if dim < 1 || nnz < 0 || bytes.len() < HEADER + 8 * nnz as usize {
            corrupt();
        }
        let nnz = nnz as usize;
        let indices = (0..nnz).map(|k| int(HEADER + 4 * k) as u32).collect();
        let values = (0..nnz)
            .map(|k| f32::from_bits(int(HEADER + 4 * nnz + 4 * k) as u32))
            .collect();
        SparseVec(Sparse {
            dim: dim as usize,
            indices,
            values,
        })
    }

    pub fn sparse(&self) -> &Sparse {
        &self.0
    }

    fn into_raw_datum(self) -> pg_sys::Datum {
        let v = self.0;
        let nnz = v.indices.len();
        let size = HEADER + 8 * nnz;
        // SAFETY: palloc0 returns `size` zeroed, aligned bytes or raises an ERROR; we write
        // the header and the 2 * nnz words within them.
        unsafe {
            let p = pg_sys::palloc0(size) as *mut u8;
            pgrx::set_varsize_4b(p as *mut pg_sys::varlena, size as i32);
            let words = p as *mut i32;
            words.add(1).write(v.dim as i32);
            words.add(2).write(nnz as i32);
            for (k, &i) in v.indices.iter().enumerate() {
                words.add(4 + k).write(i as i32);
            }
            for (k, &x) in v.values.iter().enumerate() {
                words.add(4 + nnz + k).write(x.to_bits() as i32);
            }
            pg_sys::Datum::from(p)
        }
    }
}

impl FromDatum for SparseVec {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        // SAFETY: the function's SQL signature says this argument is a sparsevec.
        (!is_null).then(|| unsafe { SparseVec::from_datum(datum) })
    }
}

// SAFETY: unboxing goes through FromDatum; the functions are strict, so never NULL.
unsafe impl<'fcx> ArgAbi<'fcx> for SparseVec {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the caller (pgrx's wrapper) hands us a valid argument of this function.
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} of type sparsevec must not be NULL"))
    }
}

// SAFETY: the datum is a palloc'd varlena in the current memory context.
unsafe impl BoxRet for SparseVec {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: returning a valid by-reference datum.
        unsafe { fcinfo.return_raw_datum(self.into_raw_datum()) }
    }
}

// SAFETY: the layout above is the sparsevec type's, which sql/sparsevec.sql creates.
unsafe impl SqlTranslatable for SparseVec {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(SparseVec);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::ThisExtension;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal(TYPE));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal(TYPE)));
}

// ---------------------------------------------------------------- I/O

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_in(input: &CStr, _type_oid: pg_sys::Oid, typmod: i32) -> SparseVec {
    SparseVec(sparse::parse_sparsevec_for(&input.to_string_lossy(), typmod).or_raise_for(TYPE))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_out(v: SparseVec) -> CString {
    CString::new(sparse::format_sparsevec(&v.0)).expect("no NUL in numbers")
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_typmod_in(fcinfo: pg_sys::FunctionCallInfo) -> i32 {
    sparse::typmod_from_modifiers(&super::io::typmods(fcinfo)).or_raise_for(TYPE)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_recv(buf: Internal, _type_oid: pg_sys::Oid, typmod: i32) -> SparseVec {
    SparseVec(super::io::receive(buf, |rest| {
        sparse::decode_for(rest, typmod).or_raise_for(TYPE)
    }))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_send(v: SparseVec) -> Vec<u8> {
    sparse::encode(&v.0)
}

// ---------------------------------------------------------------- functions

fn pair(a: &SparseVec, b: &SparseVec) {
    check_same_dimensions(&a.0, &b.0).or_raise_for(TYPE);
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_distance(a: SparseVec, b: SparseVec) -> f64 {
    pair(&a, &b);
    (a.0.l2_squared(&b.0) as f64).sqrt()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_squared_distance(a: SparseVec, b: SparseVec) -> f64 {
    pair(&a, &b);
    a.0.l2_squared(&b.0) as f64
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_inner_product(a: SparseVec, b: SparseVec) -> f64 {
    pair(&a, &b);
    a.0.inner_product(&b.0) as f64
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_negative_inner_product(a: SparseVec, b: SparseVec) -> f64 {
    -sparsevec_inner_product(a, b)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_cosine_distance(a: SparseVec, b: SparseVec) -> f64 {
    pair(&a, &b);
    a.0.cosine_distance(&b.0)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l1_distance(a: SparseVec, b: SparseVec) -> f64 {
    pair(&a, &b);
    a.0.l1(&b.0) as f64
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_norm(a: SparseVec) -> f64 {
    a.0.norm()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_normalize(a: SparseVec) -> SparseVec {
    SparseVec(a.0.l2_normalize().or_raise_for(TYPE))
}

fn order(a: &SparseVec, b: &SparseVec) -> Ordering {
    a.0.compare(&b.0)
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_cmp(a: SparseVec, b: SparseVec) -> i32 {
    order(&a, &b) as i32
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_lt(a: SparseVec, b: SparseVec) -> bool {
    order(&a, &b).is_lt()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_le(a: SparseVec, b: SparseVec) -> bool {
    order(&a, &b).is_le()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_eq(a: SparseVec, b: SparseVec) -> bool {
    order(&a, &b).is_eq()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_ne(a: SparseVec, b: SparseVec) -> bool {
    order(&a, &b).is_ne()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_ge(a: SparseVec, b: SparseVec) -> bool {
    order(&a, &b).is_ge()
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_gt(a: SparseVec, b: SparseVec) -> bool {
    order(&a, &b).is_gt()
}

// ---------------------------------------------------------------- casts

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec(v: SparseVec, typmod: i32, _explicit: bool) -> SparseVec {
    check_typmod(typmod, v.0.dim).or_raise_for(TYPE);
    v
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_to_sparsevec(v: Vector, typmod: i32, _explicit: bool) -> SparseVec {
    check_typmod(typmod, v.dims()).or_raise_for(TYPE);
    SparseVec(Sparse::from_dense(v.as_slice()))
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_to_sparsevec(v: HalfVec, typmod: i32, _explicit: bool) -> SparseVec {
    check_typmod(typmod, v.dims()).or_raise_for(TYPE);
    SparseVec(Sparse::from_dense(&v.to_f32()))
}

/// One C function behind the four array casts, as `array_to_vector`: the array's
/// non-zero elements (after their conversion to float4) with their positions, each then
/// checked finite, as pgvector does; at most `MAX_NNZ` of them, as the type's input allows.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn array_to_sparsevec(fcinfo: pg_sys::FunctionCallInfo) -> SparseVec {
    let count = |count: usize| sparse::check_dim(count as i64).map(drop);
    let v = super::casts::with_array_elements(fcinfo, TYPE, count, non_zeros);
    v.values
        .iter()
        .try_for_each(|&x| check_element(x))
        .or_raise_for(TYPE);
    SparseVec(v)
}

/// The non-zero elements of an array's datums, as float4, at most `MAX_NNZ`; an array can
/// hold a quarter of a billion elements, so a cancel is honoured on the way.
fn non_zeros(elements: &[pg_sys::Datum], element_type: pg_sys::Oid) -> Sparse {
    let mut v = Sparse {
        dim: elements.len(),
        indices: Vec::new(),
        values: Vec::new(),
    };
    for (i, &datum) in elements.iter().enumerate() {
        if i % 65_536 == 0 {
            pg_sys::check_for_interrupts!();
        }
        let x = super::casts::element_to_f32(datum, element_type, TYPE);
        if x != 0.0 {
            if v.values.len() == sparse::MAX_NNZ {
                let e = hnsw_core::VectorError::Sparse(sparse::SparseError::TooManyNonZeros);
                crate::error::raise_for(e, TYPE);
            }
            v.indices.push(i as u32);
            v.values.push(x);
        }
    }
    v
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_to_vector(v: SparseVec, typmod: i32, _explicit: bool) -> Vector {
    check_dimensions(v.0.dim).or_raise();
    check_typmod(typmod, v.0.dim).or_raise();
    Vector::from_slice(&v.0.to_dense())
}

#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_to_halfvec(v: SparseVec, typmod: i32, _explicit: bool) -> HalfVec {
    check_dimensions(v.0.dim).or_raise_for("halfvec");
    check_typmod(typmod, v.0.dim).or_raise_for("halfvec");
    HalfVec::from_slice(&to_halves(&v.0.to_dense()).or_raise_for("halfvec"))
}
