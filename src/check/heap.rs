//! The heap half of `hnsw_pg_check`: every row visible to the check's snapshot that the
//! index should hold (the value of its key, expression and predicate included) has an
//! entry. The rows come from `table_index_build_scan`, as in CREATE INDEX, which names each
//! row by the root of its HOT chain, as index entries do.

use crate::types::Values;
use hnsw_core::distance::Metric;
use hnsw_core::element::Element;
use hnsw_core::page::node::{NodeRecord, FLAG_DELETED};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts, PgSqlErrorCode};
use std::collections::{HashMap, HashSet};

struct HeapCheck {
    indexed: HashSet<(u32, u16)>,
    metric: Metric,
    element: Element,
    table: String,
    missing: Vec<String>,
    tuple_context: PgMemoryContexts,
}

#[pg_guard]
unsafe extern "C-unwind" fn row_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: `state` is the HeapCheck passed to table_index_build_scan below; values and
    // isnull hold the index's one key column; `tid` is the row's (HOT root) address.
    let (state, datum, null, (block, offset)) = unsafe {
        (
            &mut *(state as *mut HeapCheck),
            *values,
            *isnull,
            pgrx::itemptr::item_pointer_get_both(*tid),
        )
    };
    if null || state.indexed.contains(&(block, offset)) {
        return;
    }
    // A zero vector has no direction, so cosine indexes leave it out (as the build does).
    let (metric, element) = (state.metric, state.element);
    let indexable = !metric.normalizes()
        // SAFETY: the detoasted copy lives in the tuple context, reset right after.
        || unsafe {
            state.tuple_context.switch_to(|_| {
                element
                    .stored_form(metric, Values::from_datum(datum, element).as_slice())
                    .is_some()
            })
        };
    // SAFETY: nothing allocated in the tuple context is referenced any more.
    unsafe { state.tuple_context.reset() };
    if indexable {
        state.missing.push(format!(
            "heap row ({block},{offset}) of {} has no index entry",
            state.table
        ));
    }
}

/// Rows of `heap` visible to `snapshot` that should have an entry in `records` and have
/// none. The caller runs this as the table's owner (see `with_locked`), so the index's
/// expressions and predicate never run with the caller's rights.
pub(super) fn missing_rows(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    snapshot: pg_sys::Snapshot,
    records: &HashMap<u32, NodeRecord>,
    metric: Metric,
    element: Element,
) -> Vec<String> {
    // SAFETY: `heap` and `index` are open and locked; `snapshot` is registered by the
    // caller and outlives the scan, which table_index_build_scan ends itself.
    unsafe {
        refuse_too_old_snapshot(index, snapshot);
        let mut state = HeapCheck {
            indexed: records
                .values()
                // Entries VACUUM marked deleted name dead rows (a new row may reuse the
                // address): they do not count.
                .filter(|r| r.is_occupied() && r.flags & FLAG_DELETED == 0)
                .map(|r| (r.tid.block, r.tid.offset))
                .collect(),
            metric,
            element,
            table: super::relation_name((*heap).rd_id),
            missing: Vec::new(),
            tuple_context: PgMemoryContexts::new("hnsw_pg_check tuple"),
        };
        let info = pg_sys::BuildIndexInfo(index);
        (*info).ii_Concurrent = true;
        let flags = pg_sys::ScanOptions::SO_TYPE_SEQSCAN
            | pg_sys::ScanOptions::SO_ALLOW_STRAT
            | pg_sys::ScanOptions::SO_ALLOW_SYNC
            | pg_sys::ScanOptions::SO_ALLOW_PAGEMODE;
        let begin = (*(*heap).rd_tableam)
            .scan_begin
            .expect("table AMs define scan_begin");
        let scan = begin(
            heap,
            snapshot,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            flags,
        );
        pg_sys::table_index_build_scan(
            heap,
            index,
            info,
            true,
            false,
            Some(row_callback),
            &mut state as *mut HeapCheck as *mut std::ffi::c_void,
            scan,
        );
        state.missing
    }
}

/// Under REPEATABLE READ the transaction's snapshot may predate an index whose build
/// saw broken HOT chains (`indcheckxmin`); such an index rightly lacks rows that snapshot
/// can see, so the comparison would be meaningless (amcheck refuses the same way).
unsafe fn refuse_too_old_snapshot(index: pg_sys::Relation, snapshot: pg_sys::Snapshot) {
    // SAFETY: the index is open, so rd_index and rd_indextuple are its pg_index row.
    let (check_xmin, row_xmin) = unsafe {
        (
            (*(*index).rd_index).indcheckxmin,
            pg_sys::submodules::htup::HeapTupleHeaderGetXmin((*(*index).rd_indextuple).t_data),
        )
    };
    // SAFETY: reading a backend-local setting and a registered snapshot.
    let (xact_snapshot, snapshot_xmin) = unsafe {
        (
            pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32,
            (*snapshot).xmin,
        )
    };
    // SAFETY: a pure comparison of transaction ids.
    if check_xmin
        && xact_snapshot
        && !unsafe { pg_sys::TransactionIdPrecedes(row_xmin, snapshot_xmin) }
    {
        crate::error::raise_with_hint(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "index is not valid for a check against the heap in this transaction".into(),
            "Its build saw broken HOT chains after this transaction's snapshot was taken; run the check in a new transaction.",
        );
    }
}
