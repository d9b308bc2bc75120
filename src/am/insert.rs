//! INSERT: the callback. The insert itself (`hnsw_core::index::insert`) runs over
//! Postgres buffers, every change one generic WAL record. Into an index whose codebook is
//! not trained yet (`Meta::codes_pending`), inserts hold the index's page lock on block 0
//! in share mode, and the insert that brings it enough rows trains it holding that lock
//! exclusively (`train`), so no insert writes an empty code after the training encoded
//! its node. Other indexes take no such lock (an index never becomes pending again).

use super::build::{build_threads, LEVEL_SEED};
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
    // SAFETY: the vector is the first column; values/isnull/heap_tid are valid for this
    // call.
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
    let vectors = unsafe { Values::from_datum(datum, meta.element) };
    if vectors.dims() != meta.dim as usize {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("expected {} dimensions, not {}", meta.dim, vectors.dims())
        );
    }
    // SAFETY: values and isnull hold one entry per index column.
    let key =
        super::keys::key_columns(index).map_or(Vec::new(), |c| unsafe { c.encode(values, isnull) });
    let vector = vectors.as_slice();
    // As the pages store it (see Element::stored_form); a zero vector under cosine is
    // not indexed.
    let Some(vector) = meta.element.stored_form(meta.metric, vector) else {
        return false;
    };
    let tid = HeapTid {
        block: tid.0,
        offset: tid.1,
    };
    if key.len() != meta.key_bytes as usize {
        super::keys::key_mismatch(&meta, key.len());
    }
    let store = BufferStore::new(index);
    if !meta.codes_pending {
        hnsw_core::index::insert_with_key(&store, &vector, tid, &key, LEVEL_SEED);
        return false;
    }
    // SAFETY: the index is open and locked by the executor; a page lock is released here
    // or, after an ERROR, at the end of the transaction.
    unsafe { pg_sys::LockPage(index, 0, pg_sys::ShareLock as i32) };
    hnsw_core::index::insert_with_key(&store, &vector, tid, &key, LEVEL_SEED);
    // SAFETY: taken above.
    unsafe { pg_sys::UnlockPage(index, 0, pg_sys::ShareLock as i32) };
    if hnsw_core::index::ready_to_train(&read_meta(index)) {
        train(index, &store);
    }
    false
}

/// Trains a pending index's codebook and encodes its nodes (`train_pending`), with inserts
/// kept out.
/// - A cancel (or `statement_timeout`) waits until the training is done, then cancels the
///   statement: the training's pages are kept whatever becomes of the statement, whereas
///   a training each insert's timeout cut short would leave the index pending and every
///   later insert cancelled. It takes seconds at most (0.2 s at 784 dimensions and 0.8 s
///   at 2,000 on the team's 2-core machine; it grows with them).
/// - A terminate stops it; the index stays pending, and a later insert trains it.
/// - A training that fails (no memory for its sample or threads) is a WARNING, not the
///   insert's ERROR: the index keeps working on its vectors and a later insert tries again.
fn train(index: pg_sys::Relation, store: &BufferStore) {
    // SAFETY: as in aminsert.
    unsafe { pg_sys::LockPage(index, 0, pg_sys::ExclusiveLock as i32) };
    // SAFETY: the backend's own counter, as HOLD_CANCEL_INTERRUPTS (an ERROR resets it).
    unsafe { pg_sys::QueryCancelHoldoffCount += 1 };
    let mut supervise = || {
        pg_sys::check_for_interrupts!();
    };
    let trained = hnsw_core::index::train_pending(store, build_threads(), Some(&mut supervise));
    // SAFETY: as RESUME_CANCEL_INTERRUPTS, after the increment above.
    unsafe { pg_sys::QueryCancelHoldoffCount -= 1 };
    // SAFETY: taken above.
    unsafe { pg_sys::UnlockPage(index, 0, pg_sys::ExclusiveLock as i32) };
    if let Err(e) = trained {
        pgrx::ereport!(
            WARNING,
            PgSqlErrorCode::ERRCODE_WARNING,
            format!("could not train the hnsw codebook: {e}"),
            "The index searches on its vectors until a later insert trains it."
        );
    }
}
