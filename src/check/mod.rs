//! `hnsw_pg_check(index)`: one row per problem found in an hnsw index (none when healthy),
//! in the spirit of amcheck. Revoked from PUBLIC by the extension script; the caller also
//! needs SELECT on the table (superusers and `pg_read_all_data` have it).
//!
//! Consistency: a snapshot is taken before the index is read, so every heap row it sees
//! was committed, with its index entry, before the read began. The graph itself can
//! change under the read (inserts and VACUUM go on: only AccessShareLock is held), so a
//! first pass that finds anything is repeated under ShareLock on the table, which waits
//! for the writers to finish and keeps new ones out until it is done (the lock is
//! released right after); only what that pass finds is reported. A hot standby cannot
//! take ShareLock: there, only what a second pass finds again is reported.
//!
//! Everything after the privilege check runs as the table's owner, in a restricted
//! security context with `search_path = pg_catalog, pg_temp` (as amcheck and REINDEX
//! do), so the index's expressions and predicate never run with the caller's rights.

mod heap;

use crate::error::raise_with_hint;
use crate::storage::BufferStore;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};
use std::ffi::CStr;

#[pg_extern(sql = false)]
fn hnsw_pg_check(index: pg_sys::Oid) -> SetOfIterator<'static, String> {
    let heap_oid = checkable_index(index);
    let first = with_locked(heap_oid, index, pg_sys::AccessShareLock, problems);
    // SAFETY: a plain read of the server's state.
    let confirmed = if first.is_empty() {
        first
    } else if unsafe { pg_sys::RecoveryInProgress() } {
        let again = with_locked(heap_oid, index, pg_sys::AccessShareLock, problems);
        first.into_iter().filter(|p| again.contains(p)).collect()
    } else {
        with_locked(heap_oid, index, pg_sys::ShareLock, problems)
    };
    SetOfIterator::new(confirmed)
}

fn problems(heap: pg_sys::Relation, index: pg_sys::Relation) -> Vec<String> {
    // A meta page naming another element type than the operator class: one ERROR, not a
    // report of everything misread under the wrong layout.
    crate::am::options::check_element(index, &crate::storage::read_meta(index));
    // SAFETY: a snapshot registered for this function call and unregistered below.
    let snapshot = unsafe { pg_sys::RegisterSnapshot(pg_sys::GetTransactionSnapshot()) };
    let store = BufferStore::new(index);
    let (meta, records) = hnsw_core::index::read_records(&store);
    let mut found = hnsw_core::index::graph_problems(&store, meta, &records);
    found.extend(heap::missing_rows(
        heap,
        index,
        snapshot,
        &records,
        meta.metric,
        meta.element,
    ));
    // SAFETY: registered above; the heap scan that used it has ended.
    unsafe { pg_sys::UnregisterSnapshot(snapshot) };
    found.sort();
    found
}

fn relation_name(oid: pg_sys::Oid) -> String {
    // SAFETY: get_rel_name returns a palloc'd copy or null.
    let name = unsafe { pg_sys::get_rel_name(oid) };
    if name.is_null() {
        format!("{}", oid.to_u32())
    } else {
        // SAFETY: a NUL-terminated name from the syscache.
        unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned()
    }
}

/// A relation dropped by a concurrent DROP between the checks and the lock.
fn dropped(oid: pg_sys::Oid) -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
        format!(
            "relation with OID {} was dropped during the check",
            oid.to_u32()
        )
    );
}

fn wrong_object(message: String, hint: &str) -> ! {
    raise_with_hint(PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE, message, hint);
}

/// The table of `index`, once `index` is an index whose table the caller may read.
/// Nothing is opened or locked before these checks pass.
fn checkable_index(index: pg_sys::Oid) -> pg_sys::Oid {
    // SAFETY: syscache lookups by OID.
    let kind = unsafe { pg_sys::get_rel_relkind(index) } as u8;
    let name = relation_name(index);
    match kind {
        0 => {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                format!("relation with OID {} does not exist", index.to_u32())
            );
        }
        pg_sys::RELKIND_INDEX => {}
        pg_sys::RELKIND_PARTITIONED_INDEX => wrong_object(
            format!("\"{name}\" is a partitioned index"),
            "Check the index of each partition instead.",
        ),
        _ => wrong_object(
            format!("\"{name}\" is not an index"),
            "hnsw_pg_check takes an hnsw index.",
        ),
    }
    // SAFETY: a syscache lookup; InvalidOid if the index was dropped meanwhile.
    let heap = unsafe { pg_sys::IndexGetRelation(index, true) };
    if heap == pg_sys::InvalidOid {
        dropped(index);
    }
    // SAFETY: a catalog lookup of the current user's rights.
    let allowed =
        unsafe { pg_sys::pg_class_aclcheck(heap, pg_sys::GetUserId(), pg_sys::ACL_SELECT as _) };
    if allowed != pg_sys::AclResult::ACLCHECK_OK {
        raise_with_hint(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied for table {}", relation_name(heap)),
            "hnsw_pg_check needs SELECT on the index's table.",
        );
    }
    heap
}

/// Runs `f` on the table and the index, locked in that order (as every writer locks
/// them) in `mode`, as the table's owner (see the module's header), after checking that
/// the index is still the table's, is an hnsw index and is valid. AccessShareLock is
/// kept to the end of the transaction; a stronger lock is released when `f` returns.
fn with_locked<R>(
    heap_oid: pg_sys::Oid,
    index_oid: pg_sys::Oid,
    mode: u32,
    f: impl FnOnce(pg_sys::Relation, pg_sys::Relation) -> R,
) -> R {
    let release = if mode == pg_sys::AccessShareLock {
        pg_sys::NoLock
    } else {
        mode
    } as i32;
    // SAFETY: try_relation_open/try_index_open lock and open by OID (null if gone) and
    // are closed below. The user, security context and GUC nest level switched here are
    // restored below, or by the transaction's abort on an ERROR.
    unsafe {
        let heap = pg_sys::try_relation_open(heap_oid, mode as i32);
        if heap.is_null() {
            dropped(heap_oid);
        }
        let (mut user, mut context) = (pg_sys::InvalidOid, 0);
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            (*(*heap).rd_rel).relowner,
            context | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
        let guc_level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            c"pg_catalog, pg_temp".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        let index = pg_sys::try_index_open(index_oid, mode as i32);
        if index.is_null() {
            dropped(index_oid);
        }
        if pg_sys::IndexGetRelation(index_oid, true) != heap_oid {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "index \"{}\" changed its table during the check",
                    relation_name(index_oid)
                )
            );
        }
        // This extension's script creates the access methods named hnsw and ivfflat
        // (the same index), and a database holds one access method of a name.
        let am = pg_sys::get_am_name((*(*index).rd_rel).relam);
        if am.is_null() || (CStr::from_ptr(am) != c"hnsw" && CStr::from_ptr(am) != c"ivfflat") {
            wrong_object(
                format!("\"{}\" is not an hnsw index", relation_name(index_oid)),
                "hnsw_pg_check takes an index built with USING hnsw (or USING ivfflat).",
            );
        }
        if !(*(*index).rd_index).indisvalid {
            raise_with_hint(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "cannot check index \"{}\": it is not valid",
                    relation_name(index_oid)
                ),
                "A failed CREATE INDEX CONCURRENTLY leaves an invalid index; REINDEX it.",
            );
        }
        let result = f(heap, index);
        pg_sys::index_close(index, release);
        pg_sys::relation_close(heap, release);
        pg_sys::AtEOXact_GUC(false, guc_level);
        pg_sys::SetUserIdAndSecContext(user, context);
        result
    }
}
