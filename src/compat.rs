//! What differs between the PostgreSQL versions hnsw_pg builds for (15 to 18), one
//! function per difference, so the rest of the extension is written once. The version is
//! the crate feature (`pg15` to `pg18`) pgrx builds with.

use pgrx::pg_sys;
use std::ffi::CStr;

/// An integer reloption's entry in `build_reloptions`' table (18 added an optional "is
/// set" flag, which these options do without).
pub fn int_reloption(name: &'static CStr, offset: usize) -> pg_sys::relopt_parse_elt {
    reloption(name, pg_sys::relopt_type::RELOPT_TYPE_INT, offset)
}

/// The same for a boolean reloption (parsed into a C bool).
pub fn bool_reloption(name: &'static CStr, offset: usize) -> pg_sys::relopt_parse_elt {
    reloption(name, pg_sys::relopt_type::RELOPT_TYPE_BOOL, offset)
}

/// The same for an enum reloption (parsed into an int).
pub fn enum_reloption(name: &'static CStr, offset: usize) -> pg_sys::relopt_parse_elt {
    reloption(name, pg_sys::relopt_type::RELOPT_TYPE_ENUM, offset)
}

fn reloption(
    name: &'static CStr,
    opttype: pg_sys::relopt_type::Type,
    offset: usize,
) -> pg_sys::relopt_parse_elt {
    pg_sys::relopt_parse_elt {
        optname: name.as_ptr(),
        opttype,
        offset: offset as i32,
        #[cfg(feature = "pg18")]
        isset_offset: 0,
    }
}

/// The typmod and type of an index's (only) key column.
///
/// # Safety
/// `index` is an open index relation.
pub unsafe fn key_column(index: pg_sys::Relation) -> (i32, pg_sys::Oid) {
    // SAFETY: an open index's tuple descriptor has its key attribute at position 0
    // (18 keeps the attributes behind TupleDescAttr).
    let key = unsafe {
        #[cfg(not(feature = "pg18"))]
        let key = &(*(*index).rd_att).attrs.as_slice(1)[0];
        #[cfg(feature = "pg18")]
        let key = &*pg_sys::TupleDescAttr((*index).rd_att, 0);
        key
    };
    (key.atttypmod, key.atttypid)
}

/// VACUUM's cost-based delay and interrupt check (18 asks whether this is ANALYZE).
pub fn vacuum_delay_point() {
    // SAFETY: a plain backend call, made between units with no page locked.
    unsafe {
        #[cfg(not(feature = "pg18"))]
        pg_sys::vacuum_delay_point();
        #[cfg(feature = "pg18")]
        pg_sys::vacuum_delay_point(false);
    }
}

/// Keeps the planner off an index path that cannot work (a scan without ORDER BY). Its
/// infinite cost is enough up to 17; 18 ranks paths by disabled nodes before cost, so a
/// sequential scan disabled by `enable_seqscan = off` would lose to it: the path counts
/// one disabled node more than any plain scan could.
///
/// # Safety
/// `path` is the index path the planner is costing.
pub unsafe fn disable_path(path: *mut pg_sys::IndexPath) {
    #[cfg(feature = "pg18")]
    // SAFETY: the caller's path is valid and being costed.
    unsafe {
        (*path).path.disabled_nodes += 2;
    }
    #[cfg(not(feature = "pg18"))]
    let _ = path;
}

/// What names a relation's storage: a RelFileNode up to 15, a RelFileLocator from 16.
#[cfg(feature = "pg15")]
pub type Locator = pg_sys::RelFileNode;
#[cfg(not(feature = "pg15"))]
pub type Locator = pg_sys::RelFileLocator;

/// The storage of an open relation, and its relation file number (a key of its buffers).
///
/// # Safety
/// `rel` is an open relation.
pub unsafe fn locator(rel: pg_sys::Relation) -> (Locator, u32) {
    // SAFETY: the caller's relation is open, so its relcache entry is valid.
    unsafe {
        #[cfg(feature = "pg15")]
        let locator = ((*rel).rd_node, (*rel).rd_node.relNode.to_u32());
        #[cfg(not(feature = "pg15"))]
        let locator = ((*rel).rd_locator, (*rel).rd_locator.relNumber.to_u32());
        locator
    }
}

/// `FileWrite` of `bytes` at `offset` (16 takes a const void pointer and a size_t):
/// the bytes written, or a negative number on error (errno set).
///
/// # Safety
/// `file` is an open virtual file descriptor.
pub unsafe fn file_write(file: pg_sys::File, bytes: &[u8], offset: u64) -> isize {
    let wait = pg_sys::WaitEventIO::WAIT_EVENT_BUFFILE_WRITE;
    // SAFETY: FileWrite reads `bytes.len()` bytes from the buffer (never writing through
    // it) and raises an ERROR past temp_file_limit.
    unsafe {
        #[cfg(feature = "pg15")]
        let written = pg_sys::FileWrite(
            file,
            bytes.as_ptr() as *mut std::ffi::c_char,
            bytes.len() as i32,
            offset as pg_sys::off_t,
            wait,
        ) as isize;
        #[cfg(not(feature = "pg15"))]
        let written = pg_sys::FileWrite(
            file,
            bytes.as_ptr() as *const std::ffi::c_void,
            bytes.len(),
            offset as pg_sys::off_t,
            wait,
        ) as isize;
        written
    }
}

/// Counts one index search for EXPLAIN ANALYZE, which shows "Index Searches" from 18
/// (the executor gives the scan a counter only when it is instrumented).
///
/// # Safety
/// `scan` is the scan descriptor of a scan in progress.
pub unsafe fn count_index_search(scan: pg_sys::IndexScanDesc) {
    #[cfg(feature = "pg18")]
    // SAFETY: the caller's scan descriptor is valid; its `instrument` is null or points
    // at the executor's counter, which lives as long as the scan.
    unsafe {
        if !(*scan).instrument.is_null() {
            (*(*scan).instrument).nsearches += 1;
        }
    }
    #[cfg(not(feature = "pg18"))]
    let _ = scan;
}

/// The index AM routine's fields newer than 15, each set to what hnsw and ivfflat are:
/// no summarizing (16); the build's parallelism is the extension's own threads, not
/// Postgres' parallel workers, and inserts need no cleanup call (17); no hash or
/// btree-like equality and ordering semantics, no tree height for the planner, no
/// strategy translation (18).
pub fn newer_routine_fields(am: &mut pg_sys::IndexAmRoutine) {
    #[cfg(not(feature = "pg15"))]
    {
        am.amsummarizing = false;
    }
    #[cfg(any(feature = "pg17", feature = "pg18"))]
    {
        am.amcanbuildparallel = false;
        am.aminsertcleanup = None;
    }
    #[cfg(feature = "pg18")]
    {
        am.amcanhash = false;
        am.amconsistentequality = false;
        am.amconsistentordering = false;
        am.amgettreeheight = None;
        am.amtranslatestrategy = None;
        am.amtranslatecmptype = None;
    }
    #[cfg(feature = "pg15")]
    let _ = am;
}
