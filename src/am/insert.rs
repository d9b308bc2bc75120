//! INSERT: the callback. The insert itself (`hnsw_core::index::insert`) runs over
//! Postgres buffers, every change one generic WAL record. Into an index whose codebook is
//! not trained yet (`Meta::codes_pending`), inserts hold the index's page lock on block 0
//! in share mode, and the insert that brings it enough rows trains it holding that lock
//! exclusively (`train`), so no insert writes an empty code after the training encoded
//! its node. Other indexes take no such lock (an index never becomes pending again).

use super::build::{build_threads, io_error, LEVEL_SEED};
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
    let store = BufferStore::new(index);
    if !meta.codes_pending {
        hnsw_core::index::insert(&store, &vector, tid, LEVEL_SEED);
        return false;
    }
    // SAFETY: the index is open and locked by the executor; a page lock is released here
    // or, after an ERROR, at the end of the transaction.
    unsafe { pg_sys::LockPage(index, 0, pg_sys::ShareLock as i32) };
    hnsw_core::index::insert(&store, &vector, tid, LEVEL_SEED);
    // SAFETY: taken above.
    unsafe { pg_sys::UnlockPage(index, 0, pg_sys::ShareLock as i32) };
    if hnsw_core::index::ready_to_train(&read_meta(index)) {
        train(index, &store);
    }
    false
}

/// Trains a pending index's codebook and encodes its nodes (`train_pending`), with inserts
/// kept out; a cancel stops it, and the index stays pending for a later insert to train.
fn train(index: pg_sys::Relation, store: &BufferStore) {
    // SAFETY: as in aminsert.
    unsafe { pg_sys::LockPage(index, 0, pg_sys::ExclusiveLock as i32) };
    let mut supervise = || {
        pg_sys::check_for_interrupts!();
    };
    let trained = hnsw_core::index::train_pending(store, build_threads(), Some(&mut supervise));
    // SAFETY: taken above.
    unsafe { pg_sys::UnlockPage(index, 0, pg_sys::ExclusiveLock as i32) };
    if let Err(e) = trained {
        io_error("could not train the hnsw codebook", e);
    }
}
