//! `USING ivfflat`: pgvector applications and ORMs create IVFFlat indexes, so hnsw_pg
//! accepts them, with pgvector's reloption `lists` and settings `ivfflat.probes`,
//! `ivfflat.iterative_scan` and `ivfflat.max_probes`. The index is the same hnsw graph
//! (built with m = 16, ef_construction = 64); the settings map onto its scan:
//! - `ivfflat.probes` p of `lists` L: a beam of min(1000, 40 × p) (p = 1 is hnsw's
//!   default beam of 40); p ≥ L, pgvector's way to ask for exact results, is an exact
//!   scan of every row;
//! - `ivfflat.iterative_scan`: `off` stops after the first beam, `relaxed_order` (the
//!   default, as `hnsw.iterative_scan`'s here) goes on;
//! - `ivfflat.max_probes` q: a scan that goes on visits at most the share
//!   max(q, p) / L of the index's nodes (all of them when that reaches L; as pgvector,
//!   a scan that does not go on ignores it).

use hnsw_core::graph::Resume;
use hnsw_core::page::Meta;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use std::sync::atomic::{AtomicU32, Ordering};

pub const DEFAULT_LISTS: i32 = 100;
const MAX_LISTS: i32 = 32_768;

pub static PROBES: GucSetting<i32> = GucSetting::<i32>::new(1);
pub static MAX_PROBES: GucSetting<i32> = GucSetting::<i32>::new(MAX_LISTS);
pub static ITERATIVE_SCAN: GucSetting<IvfflatIterativeScan> =
    GucSetting::<IvfflatIterativeScan>::new(IvfflatIterativeScan::RelaxedOrder);

/// `ivfflat.iterative_scan`: pgvector's two values for ivfflat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, pgrx::PostgresGucEnum)]
pub enum IvfflatIterativeScan {
    #[name = c"off"]
    Off,
    #[name = c"relaxed_order"]
    RelaxedOrder,
}

static RELOPT_KIND: AtomicU32 = AtomicU32::new(0);

/// The parsed reloptions, laid out as build_reloptions fills them.
#[repr(C)]
struct RawOptions {
    vl_len: i32,
    lists: i32,
}

/// Registers the reloption and settings; called from _PG_init.
pub fn register() {
    // SAFETY: called once from _PG_init in the backend; the names are static strings.
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind, Ordering::Relaxed);
        pg_sys::add_int_reloption(
            kind,
            c"lists".as_ptr(),
            c"Number of inverted lists (here: the share of the index one probe stands for)"
                .as_ptr(),
            DEFAULT_LISTS,
            1,
            MAX_LISTS,
            pg_sys::AccessExclusiveLock as i32,
        );
    }
    GucRegistry::define_int_guc(
        c"ivfflat.probes",
        c"Lists an ivfflat index scan probes; as many as the index has lists gives exact results.",
        c"hnsw_pg serves ivfflat indexes with its hnsw graph: a beam of 40 per probe (at most 1000), or an exact scan when probes >= lists.",
        &PROBES,
        1,
        MAX_LISTS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"ivfflat.iterative_scan",
        c"Whether an ivfflat index scan goes on past its first beam: off or relaxed_order.",
        c"relaxed_order goes on (a later beam may return a row slightly nearer than the one before); off returns the first beam alone.",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"ivfflat.max_probes",
        c"Most lists an ivfflat index scan that goes on probes.",
        c"hnsw_pg: such a scan visits at most max_probes / lists of the index's nodes.",
        &MAX_PROBES,
        1,
        MAX_LISTS,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: a plain catalog-free call made once at load time.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"ivfflat".as_ptr()) };
}

/// The amoptions callback of ivfflat indexes.
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn amoptions(
    reloptions: pg_sys::Datum,
    validate: bool,
) -> *mut pg_sys::bytea {
    let table = [crate::compat::int_reloption(
        c"lists",
        std::mem::offset_of!(RawOptions, lists),
    )];
    // SAFETY: the table describes RawOptions exactly; build_reloptions pallocs the result.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            RELOPT_KIND.load(Ordering::Relaxed),
            std::mem::size_of::<RawOptions>(),
            table.as_ptr(),
            table.len() as i32,
        ) as *mut pg_sys::bytea
    }
}

/// Whether `index` is an ivfflat index (its options are ivfflat's). This extension's
/// script creates the access method named ivfflat, and a database holds one extension
/// of these names.
pub fn is_ivfflat(index: pg_sys::Relation) -> bool {
    // SAFETY: an open index relation has its pg_class row; get_am_name returns a palloc'd
    // name or null.
    unsafe {
        let name = pg_sys::get_am_name((*(*index).rd_rel).relam);
        !name.is_null() && std::ffi::CStr::from_ptr(name) == c"ivfflat"
    }
}

/// The index's `lists` (the default when none was given).
pub fn lists(index: pg_sys::Relation) -> usize {
    // SAFETY: rd_options is null or the RawOptions that amoptions built for this index.
    let raw = unsafe { ((*index).rd_options as *const RawOptions).as_ref() };
    raw.map_or(DEFAULT_LISTS, |o| o.lists) as usize
}

/// How an ivfflat index scan runs, from the settings read when it starts.
pub struct ScanPlan {
    /// Every row in exact order, no graph search.
    pub exact: bool,
    pub ef: usize,
    pub resume: Resume,
    /// Most nodes to take.
    pub limit: usize,
}

pub fn scan_plan(index: pg_sys::Relation, meta: &Meta) -> ScanPlan {
    let lists = lists(index);
    let probes = PROBES.get() as usize;
    let ef = (40 * probes).min(1000);
    let resume = match ITERATIVE_SCAN.get() {
        IvfflatIterativeScan::Off => Resume::Off,
        IvfflatIterativeScan::RelaxedOrder => Resume::RelaxedOrder,
    };
    // As pgvector: a scan that goes on probes up to max(max_probes, probes) lists; one
    // that does not, or one that probes every list, is not cut short.
    let share = match resume {
        Resume::Off => probes,
        _ => (MAX_PROBES.get() as usize).max(probes),
    };
    // Node ids lie below the end of the current insert page: an upper bound on nodes.
    let nodes = meta.insert_page_first_node as usize + 1024;
    let limit = if probes >= lists || share >= lists {
        usize::MAX
    } else {
        (nodes * share).div_ceil(lists).max(ef)
    };
    ScanPlan {
        exact: probes >= lists,
        ef,
        resume,
        limit,
    }
}
