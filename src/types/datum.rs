//! The on-disk and in-memory layout of `vector` and `halfvec` datums, identical to
//! pgvector's: a 4-byte varlena header, int16 dim, int16 unused (always 0), then dim
//! float4 (`vector`) or float16 (`halfvec`) values.

use crate::error::OrRaise;
use hnsw_core::error::check_dimensions;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::{FromDatum, IntoDatum};
use std::marker::PhantomData;
use std::ptr::NonNull;

/// An element type of a packed vector datum, and the SQL type made of it.
pub trait Element: Copy + 'static {
    const SQL_NAME: &'static str;
    const RUST_IDENT: &'static str;
}

impl Element for f32 {
    const SQL_NAME: &'static str = "vector";
    const RUST_IDENT: &'static str = concat!(module_path!(), "::Vector");
}

impl Element for hnsw_core::element::f16 {
    const SQL_NAME: &'static str = "halfvec";
    const RUST_IDENT: &'static str = concat!(module_path!(), "::HalfVec");
}

/// A `vector` datum.
pub type Vector = Packed<f32>;
/// A `halfvec` datum.
pub type HalfVec = Packed<hnsw_core::element::f16>;

#[repr(C)]
struct VectorHeader {
    vl_len: u32,
    dim: i16,
    unused: i16,
}

const HEADER_SIZE: usize = std::mem::size_of::<VectorHeader>();
const _: () = assert!(HEADER_SIZE == 8, "the header is pgvector's 8 bytes");

/// A detoasted packed vector datum in Postgres memory (valid for the current call).
pub struct Packed<E> {
    header: NonNull<VectorHeader>,
    element: PhantomData<E>,
}

impl<E: Element> Packed<E> {
    /// Copies `values` into a new datum in the current memory context. A length outside
    /// 1..=16,000 is an ERROR (it would not fit the int16 `dim`).
    pub fn from_slice(values: &[E]) -> Self {
        check_dimensions(values.len()).or_raise_for(E::SQL_NAME);
        let size = HEADER_SIZE + std::mem::size_of_val(values);
        // SAFETY: palloc0 returns `size` zeroed bytes, MAXALIGNed, or raises an ERROR; we
        // write only within them: the header, then `values.len()` floats after it.
        unsafe {
            let header = pg_sys::palloc0(size) as *mut VectorHeader;
            pgrx::set_varsize_4b(header as *mut pg_sys::varlena, size as i32);
            (*header).dim = values.len() as i16;
            let data = (header as *mut u8).add(HEADER_SIZE) as *mut E;
            std::ptr::copy_nonoverlapping(values.as_ptr(), data, values.len());
            Packed {
                header: NonNull::new_unchecked(header),
                element: PhantomData,
            }
        }
    }

    /// Detoasts a datum and checks that its header agrees with its size.
    ///
    /// # Safety
    /// `datum` must be a non-null datum of this SQL type.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> Self {
        // SAFETY: the caller passes a vector varlena; detoasting returns a palloc'd (or the
        // original, already plain) varlena with a 4-byte header.
        let header = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) } as *mut VectorHeader;
        // SAFETY: a detoasted varlena has at least its 4-byte length word; the types are
        // always at least HEADER_SIZE long, and we check that before reading `dim`.
        let size = unsafe { pgrx::varsize(header as *const pg_sys::varlena) };
        let dim = if size >= HEADER_SIZE {
            unsafe { (*header).dim }
        } else {
            -1
        };
        let element_size = std::mem::size_of::<E>();
        if dim < 0 || size < HEADER_SIZE + element_size * dim as usize || header as usize % 4 != 0 {
            pgrx::ereport!(
                ERROR,
                pgrx::PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                format!("corrupt {} datum", E::SQL_NAME)
            );
        }
        Packed {
            // SAFETY: pg_detoast_datum never returns null.
            header: unsafe { NonNull::new_unchecked(header) },
            element: PhantomData,
        }
    }

    pub fn as_slice(&self) -> &[E] {
        // SAFETY: `from_slice` and `from_datum` guarantee `dim` elements follow the
        // 4-aligned header inside the allocation, which lives for the current call.
        unsafe {
            let h = self.header.as_ptr();
            let data = (h as *const u8).add(HEADER_SIZE) as *const E;
            std::slice::from_raw_parts(data, (*h).dim as usize)
        }
    }

    pub fn dims(&self) -> usize {
        self.as_slice().len()
    }

    fn into_raw_datum(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.header.as_ptr())
    }
}

impl HalfVec {
    /// The values widened to float32 (exact).
    pub fn to_f32(&self) -> Vec<f32> {
        hnsw_core::element::widen(self.as_slice())
    }
}

impl<E: Element> FromDatum for Packed<E> {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        // SAFETY: the function's SQL signature says this argument is of this type.
        (!is_null).then(|| unsafe { Self::from_datum(datum) })
    }
}

impl<E: Element> IntoDatum for Packed<E> {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.into_raw_datum())
    }
    fn type_oid() -> pg_sys::Oid {
        pgrx::wrappers::regtypein(E::SQL_NAME)
    }
}

// SAFETY: unboxing goes through FromDatum above; strict functions never see NULL, and a
// NULL reaching a non-Option argument is reported rather than dereferenced.
unsafe impl<'fcx, E: Element> ArgAbi<'fcx> for Packed<E> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the caller (pgrx's wrapper) hands us a valid argument of this function.
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} of type {} must not be NULL", E::SQL_NAME))
    }
}

// SAFETY: the datum is a palloc'd varlena in the current memory context, as Postgres expects.
unsafe impl<E: Element> BoxRet for Packed<E> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: returning a valid by-reference datum.
        unsafe { fcinfo.return_raw_datum(self.into_raw_datum()) }
    }
}

// SAFETY: the SQL type named here is the one the datum layout above implements.
unsafe impl<E: Element> SqlTranslatable for Packed<E> {
    const TYPE_IDENT: &'static str = E::RUST_IDENT;
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::ThisExtension;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
        Ok(SqlMappingRef::literal(E::SQL_NAME));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal(E::SQL_NAME)));
}
