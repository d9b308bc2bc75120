//! The on-disk and in-memory layout of a `vector` datum, identical to pgvector's:
//! a 4-byte varlena header, int16 dim, int16 unused (always 0), then dim float4 values.

use crate::error::OrRaise;
use hnsw_core::error::check_dimensions;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::{FromDatum, IntoDatum};
use std::ptr::NonNull;

#[repr(C)]
struct VectorHeader {
    vl_len: u32,
    dim: i16,
    unused: i16,
}

const HEADER_SIZE: usize = std::mem::size_of::<VectorHeader>();
const _: () = assert!(HEADER_SIZE == 8, "the header is pgvector's 8 bytes");

/// A detoasted `vector` datum in Postgres memory (valid for the current call).
pub struct Vector {
    header: NonNull<VectorHeader>,
}

impl Vector {
    /// Copies `values` into a new datum in the current memory context. A length outside
    /// 1..=16,000 is an ERROR (it would not fit the int16 `dim`).
    pub fn from_slice(values: &[f32]) -> Vector {
        check_dimensions(values.len()).or_raise();
        let size = HEADER_SIZE + std::mem::size_of_val(values);
        // SAFETY: palloc0 returns `size` zeroed bytes, MAXALIGNed, or raises an ERROR; we
        // write only within them: the header, then `values.len()` floats after it.
        unsafe {
            let header = pg_sys::palloc0(size) as *mut VectorHeader;
            pgrx::set_varsize_4b(header as *mut pg_sys::varlena, size as i32);
            (*header).dim = values.len() as i16;
            let data = (header as *mut u8).add(HEADER_SIZE) as *mut f32;
            std::ptr::copy_nonoverlapping(values.as_ptr(), data, values.len());
            Vector {
                header: NonNull::new_unchecked(header),
            }
        }
    }

    /// Detoasts a datum and checks that its header agrees with its size.
    ///
    /// # Safety
    /// `datum` must be a non-null datum of type `vector`.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> Vector {
        // SAFETY: the caller passes a vector varlena; detoasting returns a palloc'd (or the
        // original, already plain) varlena with a 4-byte header.
        let header = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) } as *mut VectorHeader;
        // SAFETY: a detoasted varlena has at least its 4-byte length word; the vector type
        // is always at least HEADER_SIZE long, and we check that before reading `dim`.
        let size = unsafe { pgrx::varsize(header as *const pg_sys::varlena) };
        let dim = if size >= HEADER_SIZE {
            unsafe { (*header).dim }
        } else {
            -1
        };
        if dim < 0 || size < HEADER_SIZE + 4 * dim as usize || header as usize % 4 != 0 {
            pgrx::ereport!(
                ERROR,
                pgrx::PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                "corrupt vector datum"
            );
        }
        // SAFETY: pg_detoast_datum never returns null.
        Vector {
            header: unsafe { NonNull::new_unchecked(header) },
        }
    }

    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `from_slice` and `from_datum` guarantee `dim` floats follow the 4-aligned
        // header inside the allocation, which lives for the current function call.
        unsafe {
            let h = self.header.as_ptr();
            let data = (h as *const u8).add(HEADER_SIZE) as *const f32;
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

impl FromDatum for Vector {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        // SAFETY: the function's SQL signature says this argument is a vector.
        (!is_null).then(|| unsafe { Vector::from_datum(datum) })
    }
}

impl IntoDatum for Vector {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.into_raw_datum())
    }
    fn type_oid() -> pg_sys::Oid {
        pgrx::wrappers::regtypein("vector")
    }
}

// SAFETY: unboxing goes through FromDatum above; strict functions never see NULL, and a
// NULL reaching a non-Option argument is reported rather than dereferenced.
unsafe impl<'fcx> ArgAbi<'fcx> for Vector {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the caller (pgrx's wrapper) hands us a valid argument of this function.
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} of type vector must not be NULL"))
    }
}

// SAFETY: the datum is a palloc'd varlena in the current memory context, as Postgres expects.
unsafe impl BoxRet for Vector {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: returning a valid by-reference datum.
        unsafe { fcinfo.return_raw_datum(self.into_raw_datum()) }
    }
}

// SAFETY: the SQL type named here is the one the datum layout above implements.
unsafe impl SqlTranslatable for Vector {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(Vector);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::ThisExtension;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("vector"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("vector")));
}
