//! CREATE INDEX: scan the heap into a vector arena, build the graph in memory with
//! parallel Rust threads, write every page once, then WAL-log them with log_newpage_range.

use super::options::{dimensions, element, metric, options};
use crate::storage::TempFile;
use crate::types::Values;
use hnsw_core::codes::{default_subvectors, Codebook, Quantization, MIN_TRAINING_VECTORS, SAMPLE};
use hnsw_core::distance::Metric;
use hnsw_core::element::Element;
use hnsw_core::graph::storage::ArenaBuilder;
use hnsw_core::graph::{build_supervised, BuildInput, Params};
use hnsw_core::page::records::{self, record_size};
use hnsw_core::page::{write_index_with_keys, HeapTid, Meta, PAGE_SIZE};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Build phases shown in pg_stat_progress_create_index.
pub const PHASE_LOAD: i64 = 2;
pub const PHASE_GRAPH: i64 = 3;
pub const PHASE_WRITE: i64 = 4;

pub fn phase_name(phase: i64) -> Option<&'static std::ffi::CStr> {
    match phase {
        PHASE_LOAD => Some(c"loading tuples"),
        PHASE_GRAPH => Some(c"building graph"),
        PHASE_WRITE => Some(c"writing pages"),
        _ => None,
    }
}

fn progress(param: u32, value: i64) {
    // SAFETY: progress reporting is a plain backend-local call.
    unsafe { pg_sys::pgstat_progress_update_param(param as i32, value) };
}

/// The seed of the level draw: fixed, so builds are reproducible.
pub const LEVEL_SEED: u64 = 0x686e_7377_5f70_67; // "hnsw_pg"

struct LoadState {
    arena: ArenaBuilder,
    tids: Vec<HeapTid>,
    /// A multicolumn index's key columns, and each indexed row's key, in `tids` order.
    key_columns: Option<super::keys::KeyColumns>,
    keys: Vec<u8>,
    dim: usize,
    metric: Metric,
    element: Element,
    tuple_context: PgMemoryContexts,
}

#[pg_guard]
unsafe extern "C-unwind" fn load_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: `state` is the LoadState passed to table_index_build_scan below; values and
    // isnull hold the index's columns, the vector first; `tid` points at the heap tuple's
    // ItemPointer.
    let (state, datum, null, tid) = unsafe {
        (
            &mut *(state as *mut LoadState),
            *values,
            *isnull,
            pgrx::itemptr::item_pointer_get_both(*tid),
        )
    };
    if null {
        return;
    }
    let (dim, metric, element) = (state.dim, state.metric, state.element);
    // SAFETY: the tuple context is ours; everything allocated while it is current (the
    // detoasted vector) is used only inside the closure and freed by the reset below.
    let pushed = unsafe {
        state.tuple_context.switch_to(|_| {
            // The key column is of the index's element type (this runs inside the unsafe
            // block above).
            let v = Values::from_datum(datum, element);
            if v.dims() != dim {
                pgrx::ereport!(
                    ERROR,
                    PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                    format!("expected {dim} dimensions, not {}", v.dims())
                );
            }
            let values = v.as_slice();
            // As the pages store it (see Element::stored_form); a zero vector under
            // cosine is not indexed.
            let Some(values) = element.stored_form(metric, values) else {
                return false;
            };
            if let Err(e) = state.arena.push(&values) {
                io_error("could not store a vector of the hnsw build", e);
            }
            true
        })
    };
    // The row's filter values, encoded in the tuple context too (an array column is
    // detoasted and taken apart there).
    let key = match (&state.key_columns, pushed) {
        // SAFETY: the callback's values and isnull, one per index column; what encoding
        // allocates in the tuple context is not referenced after it.
        (Some(columns), true) => Some(unsafe {
            state
                .tuple_context
                .switch_to(|_| columns.encode(values, isnull))
        }),
        _ => None,
    };
    // SAFETY: nothing allocated in the tuple context is referenced any more.
    unsafe { state.tuple_context.reset() };
    if pushed {
        if let Err(e) = state.tids.try_reserve(1) {
            let bytes = state.tids.len() * std::mem::size_of::<HeapTid>();
            io_error(
                "could not store a heap tid of the hnsw build",
                hnsw_core::graph::storage::out_of_memory("heap tids", bytes, e),
            );
        }
        state.tids.push(HeapTid {
            block: tid.0,
            offset: tid.1,
        });
        if let Some(key) = key {
            if let Err(e) = state.keys.try_reserve(key.len()) {
                io_error(
                    "could not store the filter values of the hnsw build",
                    hnsw_core::graph::storage::out_of_memory("keys", state.keys.len(), e),
                );
            }
            state.keys.extend_from_slice(&key);
        }
        if state.tids.len() % 1024 == 0 {
            progress(
                pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE,
                state.tids.len() as i64,
            );
        }
    }
}

/// Raises a failed build step as an ERROR: `53200 out of memory` when memory (or a
/// thread) could not be had, else an I/O error.
pub fn io_error(what: &str, e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::OutOfMemory {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
            "out of memory",
            format!("{what}: {e}")
        );
    }
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_IO_ERROR,
        format!("{what}: {e}")
    );
}

/// Threads a build, or a deferred codebook training, runs on: max_parallel_maintenance_workers
/// and the calling backend, at most one a core.
pub fn build_threads() -> usize {
    // SAFETY: reading a GUC variable on the backend thread.
    let workers = unsafe { pg_sys::max_parallel_maintenance_workers }.max(0) as usize;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (workers + 1).min(cores).max(1)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    let opts = options(index);
    let dim = dimensions(index);
    let metric = metric(index);
    let element = element(index);
    // SAFETY: maintenance_work_mem is a GUC int in kB.
    let budget = unsafe { pg_sys::maintenance_work_mem } as usize * 1024;

    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
    let mut state = LoadState {
        // The arena holds the `&[f32]` form: `slots` floats a vector (bits: 32 a slot), or
        // a sparse vector's slot form, of its own length.
        arena: if element.is_variable() {
            ArenaBuilder::variable(budget, TempFile::maker())
        } else {
            ArenaBuilder::new(element.slots(dim), budget, TempFile::maker())
        },
        tids: Vec::new(),
        key_columns: super::keys::key_columns(index),
        keys: Vec::new(),
        dim,
        metric,
        element,
        tuple_context: PgMemoryContexts::new("hnsw build tuple"),
    };
    // SAFETY: the callback matches IndexBuildCallback and `state` outlives the scan.
    let heap_tuples = unsafe {
        pg_sys::table_index_build_scan(
            heap,
            index,
            index_info,
            true,
            true,
            Some(load_callback),
            &mut state as *mut LoadState as *mut std::ffi::c_void,
            std::ptr::null_mut(),
        )
    };
    let LoadState {
        arena,
        tids,
        key_columns,
        keys,
        ..
    } = state;
    let n = tids.len();
    let links_bytes = n * (2 * opts.m + 1) * 4;
    let spill = arena.is_spilled() || arena.bytes() + links_bytes > budget;
    // Sparse records: record pages sized to the mean record.
    let mean_record = record_size(0) as f64 + 4.0 * arena.floats() as f64 / n.max(1) as f64;
    let record_pages = records::pages_for(dim, opts.m, mean_record) as u16;
    if spill {
        pgrx::ereport!(
            NOTICE,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            format!(
                "hnsw graph of {n} vectors does not fit in maintenance_work_mem ({} kB); building it in memory-mapped temporary files",
                budget / 1024
            )
        );
    }
    let (vectors, offsets) = arena
        .finish()
        .unwrap_or_else(|e| io_error("could not map the hnsw build's vectors", e));

    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_GRAPH);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, n as i64);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, 0);
    let input = BuildInput {
        offsets,
        vectors,
        dim: if element.is_variable() {
            dim
        } else {
            element.slots(dim)
        },
        metric: element.indexed_metric(metric),
        params: Params {
            m: opts.m,
            ef_construction: opts.ef_construction,
            seed: LEVEL_SEED,
        },
        threads: build_threads(),
        links_spill: spill.then(TempFile::maker),
    };
    let stop = AtomicBool::new(false);
    let inserted = AtomicUsize::new(0);
    let mut supervise = || {
        pg_sys::check_for_interrupts!();
        progress(
            pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE,
            inserted.load(Ordering::Relaxed) as i64,
        );
    };
    let graph = build_supervised(input, &stop, &inserted, &mut supervise)
        .unwrap_or_else(|e| io_error("could not build the hnsw graph", e));
    SPILLED_BUILDS.fetch_add(graph.is_mapped() as usize, Ordering::Relaxed);

    let codes = pq_codes(&graph, &opts);
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_WRITE);
    let without_pq = Meta {
        // SAFETY: plain reads of the WAL position and the clock.
        last_change_lsn: unsafe { pg_sys::GetXLogInsertRecPtr() },
        last_change_time: unsafe { pg_sys::GetCurrentTimestamp() },
        record_pages: if element.is_variable() {
            record_pages
        } else {
            0
        },
        quantization: opts.quantization,
        key_bytes: key_bytes(&key_columns),
        ..Meta::new(
            dim as u32,
            opts.m as u16,
            opts.ef_construction as u16,
            metric,
            element,
        )
    };
    let meta = codes.describe(opts.compact, without_pq);
    let nblocks = write_pages(index, pg_sys::ForkNumber::MAIN_FORKNUM, |sink| {
        write_index_with_keys(&graph, &tids, &keys, meta, codes.codebook(), sink);
    });
    log_pages(index, pg_sys::ForkNumber::MAIN_FORKNUM, nblocks, false);

    // SAFETY: palloc'd result, as the AM API expects.
    unsafe {
        let mut result = PgBox::<pg_sys::IndexBuildResult>::alloc0();
        result.heap_tuples = heap_tuples;
        result.index_tuples = n as f64;
        result.into_pg()
    }
}

/// The key bytes of an index of these key columns (0: the vector alone).
fn key_bytes(columns: &Option<super::keys::KeyColumns>) -> u16 {
    columns
        .as_ref()
        .map_or(0, |c| c.format().key_bytes() as u16)
}

/// What a build writes for product quantization (`quantization = 'pq'`).
enum PqCodes {
    /// Not asked for.
    None,
    /// The codebook trained on the built graph's vectors with the build's threads.
    Trained(Codebook),
    /// Too few rows to train on: the index is written pending (`Meta::codes_pending`) with
    /// room for a codebook of these subvectors, which inserts train once they bring
    /// `SAMPLE` rows (`hnsw_core::index::train_pending`).
    Pending(usize),
}

impl PqCodes {
    /// The meta page of an index of these codes, from `meta` (the index's other fields:
    /// its product-quantization fields are set here). A pending index is never compact: a
    /// compact one keeps no vectors to search on.
    fn describe(&self, compact: bool, meta: Meta) -> Meta {
        let (subvectors, pending) = match self {
            PqCodes::None => return meta,
            PqCodes::Trained(codebook) => (codebook.subvectors(), false),
            PqCodes::Pending(subvectors) => (*subvectors, true),
        };
        Meta {
            quantization: Quantization::Pq,
            pq_subvectors: subvectors as u16,
            compact: compact && !pending,
            codes_pending: pending,
            ..meta
        }
    }

    fn codebook(&self) -> Option<&Codebook> {
        match self {
            PqCodes::Trained(codebook) => Some(codebook),
            _ => None,
        }
    }
}

/// `pq_subvectors` for `dim` dimensions: 0 is the default (for a `compact` index or not:
/// a pending index is never compact), and a value above the dimensions is lowered to them,
/// with a NOTICE if `notify` (a stored option never makes a rebuild fail).
fn pq_subvectors(opts: &super::options::Options, dim: usize, compact: bool, notify: bool) -> usize {
    match opts.pq_subvectors {
        0 => default_subvectors(dim, compact),
        n if n > dim => {
            if notify {
                pgrx::ereport!(
                    NOTICE,
                    PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                    format!("pq_subvectors = {n} is lowered to the {dim} dimensions")
                );
            }
            dim
        }
        n => n,
    }
}

/// Product quantization's codes for a build of `graph`: trained when the table has
/// enough rows, else pending (a NOTICE says so, a WARNING when `compact` is given up).
fn pq_codes(graph: &hnsw_core::graph::Graph, opts: &super::options::Options) -> PqCodes {
    if opts.quantization != Quantization::Pq {
        return PqCodes::None;
    }
    let pending = graph.len() < MIN_TRAINING_VECTORS;
    let subvectors = pq_subvectors(opts, graph.dim(), opts.compact && !pending, true);
    if pending {
        let message = format!(
            "quantization = 'pq' needs at least {MIN_TRAINING_VECTORS} rows to train on: the index searches its vectors until inserts bring it {SAMPLE} rows, then trains its codes"
        );
        if opts.compact {
            // A WARNING: the index works, but not at the size it was asked for.
            pgrx::ereport!(
                WARNING,
                PgSqlErrorCode::ERRCODE_WARNING,
                message,
                "A compact index keeps no vectors to search on until it is trained, so this one keeps them; REINDEX once the table has rows to make it compact."
            );
        } else {
            pgrx::ereport!(
                NOTICE,
                PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                message
            );
        }
        return PqCodes::Pending(subvectors);
    }
    let mut supervise = || {
        pg_sys::check_for_interrupts!();
    };
    let trained = Codebook::train_on(graph, subvectors, build_threads(), Some(&mut supervise));
    PqCodes::Trained(trained.unwrap_or_else(|e| io_error("could not train the hnsw codebook", e)))
}

/// Builds that used the memory-mapped spill path, for tests (`hnsw_pg_spilled_builds()`).
pub static SPILLED_BUILDS: AtomicUsize = AtomicUsize::new(0);

/// Appends the pages `produce` emits (in block order from 0) to `fork`. Returns the count.
fn write_pages(
    index: pg_sys::Relation,
    fork: pg_sys::ForkNumber::Type,
    produce: impl FnOnce(&mut dyn FnMut(u32, &[u8])),
) -> u32 {
    let mut count = 0u32;
    let mut sink = |block: u32, page: &[u8]| {
        // SAFETY: extending with P_NEW returns a pinned zero page numbered `block` (nobody
        // else can see the index yet); we fill it under an exclusive lock and mark it dirty.
        unsafe {
            let buffer = pg_sys::ReadBufferExtended(
                index,
                fork,
                pg_sys::InvalidBlockNumber,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                std::ptr::null_mut(),
            );
            assert_eq!(
                pg_sys::BufferGetBlockNumber(buffer),
                block,
                "index pages are appended in order"
            );
            pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            let target = pg_sys::BufferGetPage(buffer) as *mut u8;
            std::ptr::copy_nonoverlapping(page.as_ptr(), target, PAGE_SIZE);
            pg_sys::MarkBufferDirty(buffer);
            pg_sys::UnlockReleaseBuffer(buffer);
        }
        count += 1;
        if count % 1024 == 0 {
            pg_sys::check_for_interrupts!();
            progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, count as i64);
        }
    };
    produce(&mut sink);
    count
}

/// WAL-logs pages 0..nblocks of `fork` as full images (always for an init fork, else
/// when the relation is logged).
fn log_pages(index: pg_sys::Relation, fork: pg_sys::ForkNumber::Type, nblocks: u32, always: bool) {
    // SAFETY: reading the relation's persistence from its open relcache entry.
    let permanent = unsafe { (*(*index).rd_rel).relpersistence }
        == pg_sys::RELPERSISTENCE_PERMANENT as std::ffi::c_char;
    if (always || permanent) && nblocks > 0 {
        // SAFETY: the pages exist and are ours; log_newpage_range takes its own locks.
        unsafe { pg_sys::log_newpage_range(index, fork, 0, nblocks, true) };
    }
}

/// The init fork of an unlogged index: an empty index (meta page only), WAL-logged so a
/// standby or crash recovery can reset the main fork from it.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    let opts = options(index);
    let dim = dimensions(index);
    let without_pq = Meta {
        quantization: opts.quantization,
        key_bytes: key_bytes(&super::keys::key_columns(index)),
        ..Meta::new(
            dim as u32,
            opts.m as u16,
            opts.ef_construction as u16,
            metric(index),
            element(index),
        )
    };
    // Product quantization trains on rows: an empty index is pending (`pq_codes`; the
    // main fork's build has said so already).
    let codes = match opts.quantization {
        Quantization::Pq => PqCodes::Pending(pq_subvectors(&opts, dim as usize, false, false)),
        _ => PqCodes::None,
    };
    let meta = codes.describe(opts.compact, without_pq);
    let nblocks = write_pages(index, pg_sys::ForkNumber::INIT_FORKNUM, |sink| {
        let mut page = vec![0u8; PAGE_SIZE];
        hnsw_core::page::init_page(
            &mut page,
            hnsw_core::page::PageKind::Meta,
            hnsw_core::page::meta::META_SIZE,
        );
        meta.write(&mut page);
        sink(0, &page);
    });
    log_pages(index, pg_sys::ForkNumber::INIT_FORKNUM, nblocks, true);
}
