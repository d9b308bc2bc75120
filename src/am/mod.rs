//! The `hnsw` index access method: one file per job (build, insert, scan, vacuum, cost),
//! and `ivfflat`, the same index under pgvector's other name (see `ivfflat.rs`).

mod build;
mod cost;
mod distance_support;
mod free;
mod insert;
mod ivfflat;
mod keys;
pub mod options;
mod repair;
mod scan;
mod vacuum;

use pgrx::prelude::*;
use pgrx::{pg_sys, Internal};

/// Registers both access methods' reloptions and settings; called from _PG_init.
pub fn register() {
    options::register();
    ivfflat::register();
}

/// The access method handler: what CREATE ACCESS METHOD hnsw points at.
#[pg_extern(sql = false)]
fn hnswhandler(_fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    routine(options::amoptions, true)
}

/// The handler of `USING ivfflat`: the same index, with ivfflat's reloption (`lists`).
#[pg_extern(sql = false)]
fn ivfflathandler(_fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    routine(ivfflat::amoptions, false)
}

type AmOptions = unsafe extern "C-unwind" fn(pg_sys::Datum, bool) -> *mut pg_sys::bytea;

/// The routine of both access methods; `multicolumn` for hnsw, whose columns after the
/// vector are filter columns (`keys`): ivfflat has no operator classes for them.
fn routine(amoptions: AmOptions, multicolumn: bool) -> Internal {
    // SAFETY: makeNode-style allocation of the routine struct, handed to Postgres.
    let mut am =
        unsafe { PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine) };
    am.amstrategies = 0;
    am.amsupport = 3;
    am.amoptsprocnum = 0;
    am.amcanorder = false;
    am.amcanorderbyop = true;
    am.amcanbackward = false;
    am.amcanunique = false;
    am.amcanmulticol = multicolumn;
    am.amoptionalkey = true;
    am.amsearcharray = multicolumn;
    am.amsearchnulls = multicolumn;
    am.amstorage = false;
    am.amclusterable = false;
    am.ampredlocks = false;
    am.amcanparallel = false;
    am.amcaninclude = false;
    am.amusemaintenanceworkmem = true;
    am.amparallelvacuumoptions = pg_sys::VACUUM_OPTION_PARALLEL_BULKDEL as u8;
    am.amkeytype = pg_sys::InvalidOid;

    am.ambuild = Some(build::ambuild);
    am.ambuildempty = Some(build::ambuildempty);
    am.aminsert = Some(insert::aminsert);
    am.ambulkdelete = Some(vacuum::ambulkdelete);
    am.amvacuumcleanup = Some(vacuum::amvacuumcleanup);
    am.amcanreturn = None;
    am.amcostestimate = Some(cost::amcostestimate);
    am.amoptions = Some(amoptions);
    am.amproperty = None;
    am.ambuildphasename = Some(ambuildphasename);
    am.amvalidate = Some(amvalidate);
    am.amadjustmembers = None;
    am.ambeginscan = Some(scan::ambeginscan);
    am.amrescan = Some(scan::amrescan);
    am.amgettuple = Some(scan::amgettuple);
    am.amgetbitmap = None;
    am.amendscan = Some(scan::amendscan);
    am.ammarkpos = None;
    am.amrestrpos = None;
    am.amestimateparallelscan = None;
    am.aminitparallelscan = None;
    am.amparallelrescan = None;
    crate::compat::newer_routine_fields(&mut am);
    Internal::from(Some(pg_sys::Datum::from(am.into_pg())))
}

#[pg_guard]
unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut std::ffi::c_char {
    build::phase_name(phase).map_or(std::ptr::null_mut(), |name| name.as_ptr() as *mut _)
}

#[pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclass: pg_sys::Oid) -> bool {
    true
}

/// How many index builds in this backend spilled to memory-mapped files (for tests).
#[pg_extern(sql = false)]
fn hnsw_pg_spilled_builds() -> i64 {
    build::SPILLED_BUILDS.load(std::sync::atomic::Ordering::Relaxed) as i64
}
