//! INSERT: the callback. The insert itself (`hnsw_core::index::insert`) runs over
//! Postgres buffers, every change one generic WAL record.

use super::build::LEVEL_SEED;
use crate::storage::{read_meta, BufferStore};
use crate::types::Values;
use hnsw_core::page::node::HeapTid;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

#[pg_guard]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    _index_unchanged: bool,
    _index_info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: one key column; values/isnull/heap_tid are valid for this call.
    let (datum, null, tid) = unsafe {
        (
            *values,
            *isnull,
            pgrx::itemptr::item_pointer_get_both(*heap_tid),
        )
    };
    if null {
        return false;
    }
    let meta = read_meta(index);
    super::options::check_element(index, &meta);
    // SAFETY: the key column is of the index's element type.
    let values = unsafe { Values::from_datum(datum, meta.element) };
    if values.dims() != meta.dim as usize {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("expected {} dimensions, not {}", meta.dim, values.dims())
        );
    }
    let vector = values.as_slice();
    // As the pages store it (see Element::stored_form); a zero vector under cosine is
    // not indexed.
    let Some(vector) = meta.element.stored_form(meta.metric, vector) else {
        return false;
    };
    let tid = HeapTid {
        block: tid.0,
        offset: tid.1,
    };
    hnsw_core::index::insert(&BufferStore::new(index), &vector, tid, LEVEL_SEED);
    false
}
